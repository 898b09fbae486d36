/**
 * Interns pairs of 32-bit integers to dense ids with open addressing over one typed array. The
 * snapshot interns hundreds of thousands of addresses and service keys; a Map keyed by doubles or
 * strings costs several times more. Each slot holds [a, b, id + 1] side by side, so a lookup
 * touches one cache line instead of a slot array and a key array.
 */
export class PairInterner {
  size = 0;
  private cap = 1024; // slots, power of two
  private slots = new Uint32Array(this.cap * 3);

  id(a: number, b: number): number {
    a >>>= 0;
    b >>>= 0;
    const mask = this.cap - 1;
    const s = this.slots;
    let slot = hash(a, b) & mask;
    for (;;) {
      const o = slot * 3;
      const e = s[o + 2]!;
      if (e === 0) break;
      if (s[o] === a && s[o + 1] === b) return e - 1;
      slot = (slot + 1) & mask;
    }
    const id = this.size++;
    const o = slot * 3;
    s[o] = a;
    s[o + 1] = b;
    s[o + 2] = id + 1;
    if (this.size * 2 > this.cap) this.rehash();
    return id;
  }

  private rehash(): void {
    const old = this.slots;
    this.cap *= 2;
    const mask = this.cap - 1;
    const s = new Uint32Array(this.cap * 3);
    for (let o = 0; o < old.length; o += 3) {
      if (old[o + 2] === 0) continue;
      let slot = hash(old[o]!, old[o + 1]!) & mask;
      while (s[slot * 3 + 2] !== 0) slot = (slot + 1) & mask;
      s[slot * 3] = old[o]!;
      s[slot * 3 + 1] = old[o + 1]!;
      s[slot * 3 + 2] = old[o + 2]!;
    }
    this.slots = s;
  }
}

function hash(a: number, b: number): number {
  let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  return h;
}
