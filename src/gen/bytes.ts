/**
 * Appends ASCII straight into a Buffer: literals, decimals, IPv4 and IPv6 addresses. Generating
 * gigabytes this way avoids building a JS string per line.
 */

export const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

const HEX = ascii("0123456789abcdef");
/** Decimal text of 0..255, 3 bytes per octet, with its length. */
const OCT = new Uint8Array(256 * 3);
const OCT_LEN = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  const s = String(i);
  OCT_LEN[i] = s.length;
  for (let k = 0; k < s.length; k++) OCT[i * 3 + k] = s.charCodeAt(k);
}

export class ByteWriter {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Hands out what was written and starts a fresh buffer (the caller may keep the old one). */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(this.buf.length);
    this.pos = 0;
    return out;
  }

  lit(b: Uint8Array): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) buf[p++] = b[i]!;
    this.pos = p;
  }

  byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  /** Non-negative integer below 2^53. */
  dec(n: number): void {
    const buf = this.buf;
    if (n < 10) {
      buf[this.pos++] = 48 + n;
      return;
    }
    let len = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) len++;
    let p = this.pos + len;
    this.pos = p;
    if (n < 2147483648) {
      while (n >= 10) {
        const q = (n / 10) | 0;
        buf[--p] = 48 + n - q * 10;
        n = q;
      }
    } else {
      while (n >= 10) {
        const q = Math.floor(n / 10);
        buf[--p] = 48 + n - q * 10;
        n = q;
      }
    }
    buf[--p] = 48 + n;
  }

  v4(a: number): void {
    const buf = this.buf;
    let p = this.pos;
    for (let s = 24; s >= 0; s -= 8) {
      const o = (a >>> s) & 255;
      const l = OCT_LEN[o]!;
      const b = o * 3;
      buf[p++] = OCT[b]!;
      if (l > 1) buf[p++] = OCT[b + 1]!;
      if (l > 2) buf[p++] = OCT[b + 2]!;
      if (s > 0) buf[p++] = 46;
    }
    this.pos = p;
  }

  /** IPv6 as /proc prints it: eight 4-digit groups. */
  v6Expanded(g: Uint16Array, o: number): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < 8; i++) {
      const v = g[o + i]!;
      if (i > 0) buf[p++] = 58;
      buf[p++] = HEX[v >>> 12]!;
      buf[p++] = HEX[(v >>> 8) & 15]!;
      buf[p++] = HEX[(v >>> 4) & 15]!;
      buf[p++] = HEX[v & 15]!;
    }
    this.pos = p;
  }

  /** IPv6 as inet_ntop prints it (conntrack-tools): the longest run of two or more zero groups becomes "::". */
  v6Compressed(g: Uint16Array, o: number): void {
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      if (g[o + i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && g[o + j] === 0) j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j;
    }
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < 8; i++) {
      if (i === best) {
        buf[p++] = 58;
        buf[p++] = 58;
        i += bestLen - 1;
        continue;
      }
      if (i > 0 && i !== best + bestLen) buf[p++] = 58;
      const v = g[o + i]!;
      if (v >= 0x1000) buf[p++] = HEX[v >>> 12]!;
      if (v >= 0x100) buf[p++] = HEX[(v >>> 8) & 15]!;
      if (v >= 0x10) buf[p++] = HEX[(v >>> 4) & 15]!;
      buf[p++] = HEX[v & 15]!;
    }
    this.pos = p;
  }
}
