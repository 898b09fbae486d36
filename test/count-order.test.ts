/**
 * Order statistics of counts (src/diagnose/count-order.ts): the histogram and the sorted fallback
 * both give what a plain sort gives, on exact small cases and on random counts full of repeats
 * (seed printed, replay with CTSCOPE_SEED).
 */
import { describe, expect, it } from "vitest";
import { CountOrder, HISTOGRAM_MAX, medianWithout } from "../src/diagnose/count-order.js";
import { rng } from "./helpers/random-lines.js";

const seed = Number(process.env.CTSCOPE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`count-order: seed ${seed} (replay with CTSCOPE_SEED=${seed})`);

/** What CountOrder must equal: the kept values, sorted. */
function reference(values: number[]): Float64Array {
  return Float64Array.from(values.filter((v) => v > 0)).sort();
}

function lastIndexSorted(sorted: Float64Array, v: number): number {
  let last = -1;
  for (let i = 0; i < sorted.length; i++) if (sorted[i]! <= v) last = i;
  return last;
}

describe("CountOrder", () => {
  it("reads positions and ranks of whole counts, leaving out zeros", () => {
    const o = new CountOrder(Float64Array.from([0, 3, 1, 0, 3, 7, 1, 1]));
    expect(o.length).toBe(6);
    expect([0, 1, 2, 3, 4, 5].map((k) => o.at(k))).toEqual([1, 1, 1, 3, 3, 7]);
    expect(o.at(6)).toBeUndefined();
    expect(o.at(-1)).toBeUndefined();
    expect(o.lastIndexOf(1)).toBe(2);
    expect(o.lastIndexOf(3)).toBe(4);
    expect(o.lastIndexOf(7)).toBe(5);
    expect(o.lastIndexOf(5)).toBe(4);
    expect(o.lastIndexOf(100)).toBe(5);
    expect(o.lastIndexOf(0)).toBe(-1);
  });

  it("sorts everything when some counts are not whole, and counts past the histogram apart", () => {
    const fractions = new CountOrder(Float64Array.from([2.5, 0, 1, 2.5]));
    expect([0, 1, 2].map((k) => fractions.at(k))).toEqual([1, 2.5, 2.5]);
    expect(fractions.lastIndexOf(2.5)).toBe(2);
    const big = new CountOrder(Float64Array.from([HISTOGRAM_MAX + 1, 4, 4]));
    expect([0, 1, 2].map((k) => big.at(k))).toEqual([4, 4, HISTOGRAM_MAX + 1]);
    expect(big.lastIndexOf(4)).toBe(1);
  });

  it("keeps counts past the histogram in order after it", () => {
    const o = new CountOrder(Float64Array.from([1, HISTOGRAM_MAX + 5, 2, 0, 3, HISTOGRAM_MAX + 1, HISTOGRAM_MAX]));
    expect(o.length).toBe(6);
    expect([0, 1, 2, 3, 4, 5].map((k) => o.at(k))).toEqual([1, 2, 3, HISTOGRAM_MAX, HISTOGRAM_MAX + 1, HISTOGRAM_MAX + 5]);
    expect(o.lastIndexOf(10)).toBe(2);
    expect(o.lastIndexOf(HISTOGRAM_MAX)).toBe(3);
    expect(o.lastIndexOf(HISTOGRAM_MAX + 1)).toBe(4);
    expect(o.lastIndexOf(HISTOGRAM_MAX + 3)).toBe(4);
    expect(o.lastIndexOf(HISTOGRAM_MAX * 4)).toBe(5);
    const onlyBig = new CountOrder(Float64Array.from([HISTOGRAM_MAX + 2, HISTOGRAM_MAX + 1]));
    expect([onlyBig.at(0), onlyBig.at(1), onlyBig.lastIndexOf(5), onlyBig.lastIndexOf(HISTOGRAM_MAX + 1)]).toEqual([
      HISTOGRAM_MAX + 1,
      HISTOGRAM_MAX + 2,
      -1,
      0,
    ]);
  });

  it("is empty when nothing is kept", () => {
    const o = new CountOrder(new Float64Array(5));
    expect(o.length).toBe(0);
    expect(o.at(0)).toBeUndefined();
    expect(o.lastIndexOf(3)).toBe(-1);
    expect(medianWithout(o, -1)).toBe(0);
  });

  it("equals a sort on random counts, and so do the medians built on it", () => {
    const r = rng(seed);
    for (let round = 0; round < 200; round++) {
      const n = Math.floor(r() * 300);
      // Mostly small counts with many repeats, some zeros, now and then a huge or fractional one.
      const values = Array.from({ length: n }, () => {
        const x = r();
        if (x < 0.2) return 0;
        if (x < 0.97) return 1 + Math.floor(r() * 12);
        if (x < 0.99) return Math.floor(r() * HISTOGRAM_MAX * 2);
        return round % 2 === 0 ? 1 + Math.floor(r() * 50) : r() * 50;
      });
      const sorted = reference(values);
      const o = new CountOrder(Float64Array.from(values));
      expect(o.length, `round ${round}`).toBe(sorted.length);
      for (let k = 0; k < sorted.length; k++) expect(o.at(k), `round ${round} k ${k}`).toBe(sorted[k]);
      for (const v of new Set(values)) {
        expect(o.lastIndexOf(v), `round ${round} v ${v}`).toBe(lastIndexSorted(sorted, v));
        const skip = lastIndexSorted(sorted, v);
        expect(medianWithout(o, skip)).toBe(medianWithout(sorted, skip));
      }
    }
  });
});

describe("medianWithout", () => {
  it("leaves out one position", () => {
    const a = Float64Array.from([1, 2, 3, 10, 50]);
    expect(medianWithout(a, 4)).toBe(2.5);
    expect(medianWithout(a, 0)).toBe(6.5);
    expect(medianWithout(a, 2)).toBe(6);
    expect(medianWithout(Float64Array.from([7]), 0)).toBe(0);
  });
});
