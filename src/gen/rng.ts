/**
 * Deterministic randomness for the generator. Every entry's bytes are a pure function of
 * (seed, entry index, format), so output never depends on chunking, timing or core count.
 */

/** murmur3's 32-bit finalizer: a cheap, well-mixed hash of one 32-bit word. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Hash of two words (seed-dependent lookups: pool addresses, round keys). */
export function hash2(a: number, b: number): number {
  return mix32((mix32(a) ^ Math.imul(b, 0x9e3779b1)) >>> 0);
}

/** mulberry32: small, fast, good enough for synthetic traffic. Re-seeded per entry. */
export class Rng {
  private s = 0;

  reset(seed: number): void {
    this.s = seed | 0;
  }

  u32(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = Math.imul(this.s ^ (this.s >>> 15), 1 | this.s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Integer in [0, n); n <= 2^32. The modulo bias is irrelevant for synthetic data. */
  below(n: number): number {
    return this.u32() % n;
  }

  /** Float in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + (this.u32() % (hi - lo + 1));
  }
}

/**
 * A seeded bijection of [0, n): a 4-round Feistel network on the smallest even bit width that
 * covers n, with cycle walking for the values >= n. Entry i gets slot at(i); slots are handed out
 * to entry kinds in contiguous blocks, so every kind gets an exact count yet appears at random
 * positions, like the kernel's hash-ordered dump.
 */
export class Permutation {
  private readonly half: number;
  private readonly mask: number;
  private readonly keys: number[];

  constructor(
    readonly n: number,
    seed: number,
  ) {
    let bits = 2;
    while (2 ** bits < n) bits++;
    if (bits % 2 === 1) bits++;
    if (bits > 32) throw new RangeError("permutation domain too large");
    this.half = bits / 2;
    this.mask = 2 ** this.half - 1;
    this.keys = [1, 2, 3, 4].map((r) => hash2(seed, 0x5eed0000 + r));
  }

  at(i: number): number {
    let x = i;
    do x = this.round(x);
    while (x >= this.n);
    return x;
  }

  private round(x: number): number {
    const h = this.half;
    const m = this.mask;
    let l = Math.floor(x / 2 ** h);
    let r = x & m;
    for (const k of this.keys) {
      const t = (l ^ (mix32((r ^ k) >>> 0) & m)) >>> 0;
      l = r;
      r = t;
    }
    return l * 2 ** h + r;
  }
}
