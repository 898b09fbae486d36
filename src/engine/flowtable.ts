import { KEY_BYTES, V_COUNT, V_MAX_TIMEOUT, VALUE_FIELDS } from "../parse/layout.js";

const KEY_WORDS = KEY_BYTES / 4;

/**
 * Open-addressing hash table over fixed 40-byte flow-class keys, with Float64 values.
 * Keys and values are stored densely in insertion order, so a scan's result is just a prefix of
 * two typed arrays. Used by the TS tokenizer (per chunk) and by the merge (across chunks).
 */
export class FlowTable {
  size = 0;
  private cap: number; // slots, power of two
  /** Per slot [entry index + 1 (0 = empty), hash]: the hash is compared without touching the keys. */
  private slots: Int32Array;
  keys: Uint8Array;
  private keyWords: Uint32Array;
  values: Float64Array;

  constructor(initialEntries = 1024) {
    let cap = 16;
    while (cap < initialEntries * 2) cap <<= 1;
    this.cap = cap;
    this.slots = new Int32Array(cap * 2);
    this.keys = new Uint8Array((cap >> 1) * KEY_BYTES);
    this.keyWords = new Uint32Array(this.keys.buffer);
    this.values = new Float64Array((cap >> 1) * VALUE_FIELDS);
  }

  /** Index of the entry for the key in words[0..10), inserting a zeroed entry when new. */
  indexOf(words: Uint32Array, wordOffset = 0): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < KEY_WORDS; i++) {
      h = Math.imul(h ^ words[wordOffset + i]!, 0x01000193);
      h ^= h >>> 15;
    }
    h |= 0;
    const mask = this.cap - 1;
    let slot = h & mask;
    const kw = this.keyWords;
    const slots = this.slots;
    for (;;) {
      const e = slots[slot * 2]!;
      if (e === 0) break;
      const idx = e - 1;
      if (slots[slot * 2 + 1] === h) {
        const base = idx * KEY_WORDS;
        let same = true;
        for (let i = 0; i < KEY_WORDS; i++) {
          if (kw[base + i] !== words[wordOffset + i]) {
            same = false;
            break;
          }
        }
        if (same) return idx;
      }
      slot = (slot + 1) & mask;
    }
    const idx = this.size;
    if (idx >= this.cap >> 1) {
      this.grow();
      return this.indexOf(words, wordOffset);
    }
    this.size = idx + 1;
    slots[slot * 2] = idx + 1;
    slots[slot * 2 + 1] = h;
    const kb = idx * KEY_WORDS;
    for (let i = 0; i < KEY_WORDS; i++) this.keyWords[kb + i] = words[wordOffset + i]!;
    this.values[idx * VALUE_FIELDS + V_MAX_TIMEOUT] = -1;
    return idx;
  }

  /** Room for `extra` more entries without growing on the way (one resize instead of several). */
  reserve(extra: number): void {
    let cap = this.cap;
    while (cap >> 1 < this.size + extra) cap <<= 1;
    if (cap !== this.cap) this.resize(cap);
  }

  /** Add another table's (or chunk's) entries: sums, and max for the timeout. */
  mergeFrom(keys: Uint8Array, values: Float64Array, count: number): void {
    // Into an empty table every key is new; later chunks mostly repeat keys, so growth is left to the inserts.
    if (this.size === 0) this.reserve(count);
    const words =
      keys.byteOffset % 4 === 0
        ? new Uint32Array(keys.buffer, keys.byteOffset, count * KEY_WORDS)
        : new Uint32Array(keys.slice(0, count * KEY_BYTES).buffer);
    for (let i = 0; i < count; i++) {
      const idx = this.indexOf(words, i * KEY_WORDS);
      const d = idx * VALUE_FIELDS;
      const s = i * VALUE_FIELDS;
      const v = this.values;
      v[d + V_COUNT]! += values[s + V_COUNT]!;
      v[d + 1]! += values[s + 1]!;
      v[d + 2]! += values[s + 2]!;
      if (values[s + V_MAX_TIMEOUT]! > v[d + V_MAX_TIMEOUT]!) v[d + V_MAX_TIMEOUT] = values[s + V_MAX_TIMEOUT]!;
    }
  }

  /** Dense copies of the used part, detached from this table. */
  export(): { keys: Uint8Array; values: Float64Array } {
    return {
      keys: this.keys.slice(0, this.size * KEY_BYTES),
      values: this.values.slice(0, this.size * VALUE_FIELDS),
    };
  }

  private grow(): void {
    this.resize(this.cap << 1);
  }

  private resize(cap: number): void {
    const entries = cap >> 1;
    const keys = new Uint8Array(entries * KEY_BYTES);
    keys.set(this.keys.subarray(0, this.size * KEY_BYTES));
    const values = new Float64Array(entries * VALUE_FIELDS);
    values.set(this.values.subarray(0, this.size * VALUE_FIELDS));
    const old = this.slots;
    const slots = new Int32Array(cap * 2);
    const mask = cap - 1;
    for (let o = 0; o < old.length; o += 2) {
      if (old[o] === 0) continue;
      let slot = old[o + 1]! & mask;
      while (slots[slot * 2] !== 0) slot = (slot + 1) & mask;
      slots[slot * 2] = old[o]!;
      slots[slot * 2 + 1] = old[o + 1]!;
    }
    this.cap = cap;
    this.slots = slots;
    this.keys = keys;
    this.keyWords = new Uint32Array(keys.buffer);
    this.values = values;
  }
}
