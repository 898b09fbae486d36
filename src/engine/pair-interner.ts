/**
 * Interns pairs of 32-bit integers to dense ids with open addressing over typed arrays. The
 * snapshot interns hundreds of thousands of addresses and service keys; a Map keyed by doubles or
 * strings costs several times more.
 */
export class PairInterner {
  size = 0;
  private cap = 1024;
  private slots = new Int32Array(this.cap).fill(-1);
  /** Key pairs by id: a at 2*id, b at 2*id+1. */
  keys = new Uint32Array(this.cap);

  id(a: number, b: number): number {
    const mask = this.cap - 1;
    let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    let slot = h & mask;
    for (;;) {
      const e = this.slots[slot]!;
      if (e < 0) break;
      if (this.keys[2 * e] === a >>> 0 && this.keys[2 * e + 1] === b >>> 0) return e;
      slot = (slot + 1) & mask;
    }
    const id = this.size++;
    if (2 * id + 2 > this.keys.length) {
      const k = new Uint32Array(this.keys.length * 2);
      k.set(this.keys);
      this.keys = k;
    }
    this.keys[2 * id] = a;
    this.keys[2 * id + 1] = b;
    this.slots[slot] = id;
    if (this.size * 2 > this.cap) this.rehash();
    return id;
  }

  private rehash(): void {
    this.cap *= 2;
    const mask = this.cap - 1;
    this.slots = new Int32Array(this.cap).fill(-1);
    for (let id = 0; id < this.size; id++) {
      const a = this.keys[2 * id]!;
      const b = this.keys[2 * id + 1]!;
      let h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x85ebca6b);
      h ^= h >>> 13;
      let slot = h & mask;
      while (this.slots[slot]! >= 0) slot = (slot + 1) & mask;
      this.slots[slot] = id;
    }
  }
}
