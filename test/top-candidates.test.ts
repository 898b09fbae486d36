/**
 * Top-N candidates (src/engine/top.ts and the addon's): exact ids on small cases, and on random
 * counts full of ties the candidates always hold the true top n, and the native ids equal the TS
 * ones (seed printed, replay with CTSCOPE_SEED).
 */
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/engine/backend.js";
import { topCandidates, topIds } from "../src/engine/top.js";
import { loadNative } from "./helpers/native-compare.js";
import { rng } from "./helpers/random-lines.js";

const addon = loadNative("top-candidates");
const seed = Number(process.env.CTSCOPE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`top-candidates: seed ${seed} (replay with CTSCOPE_SEED=${seed})`);

type Candidates = (count: Float64Array, rank: Float64Array, n: number) => Int32Array;
const impls: Array<[string, Candidates]> = [["ts", topCandidates]];
if (addon) impls.push(["native", getBackend("native").topCandidates!]);

const f64 = (a: number[]) => Float64Array.from(a);

describe.each(impls)("topCandidates (%s)", (_name, candidates) => {
  it("keeps every id above the cut and the tied ids whose rank can still make it", () => {
    // Counts: ids 0..7; n = 3: 9 and 7 are above, three ids tie at 5 for one place.
    const count = f64([5, 9, 0, 5, 7, 5, 1, 2]);
    const rank = f64([30, 1, 0, 10, 50, 10, 0, 0]);
    // Tied ranks 30, 10, 10: the smallest is 10, held by ids 3 and 5 (equal ranks need the full order).
    expect(Array.from(candidates(count, rank, 3))).toEqual([1, 3, 4, 5]);
  });

  it("returns every id with a count when there are no more than n", () => {
    expect(Array.from(candidates(f64([0, 3, 0, 1]), f64([0, 0, 0, 0]), 5))).toEqual([1, 3]);
    expect(Array.from(candidates(f64([0, 3, 0, 1]), f64([9, 9, 9, 9]), 2))).toEqual([1, 3]);
    expect(Array.from(candidates(f64([0, 0]), f64([0, 0]), 1))).toEqual([]);
    expect(Array.from(candidates(f64([4, 3]), f64([0, 0]), 0))).toEqual([]);
  });

  it("on a flood of ties keeps only the first ranks", () => {
    const m = 100000;
    const count = new Float64Array(m).fill(1);
    count[777] = 4;
    const rank = Float64Array.from({ length: m }, (_, i) => (i * 7919) % m);
    // n = 10: id 777 above, then the nine smallest ranks among the rest.
    const got = Array.from(candidates(count, rank, 10));
    expect(got).toHaveLength(10);
    expect(got).toContain(777);
    expect(
      got
        .filter((i) => i !== 777)
        .map((i) => rank[i])
        .sort((a, b) => a! - b!),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe("topCandidates on random counts", () => {
  it.each([1, 3, 10, 300, 5000])("n = %i: the candidates hold the true top n, and both backends agree", (n) => {
    const r = rng(seed + n);
    for (let round = 0; round < 20; round++) {
      const m = 1 + Math.floor(r() * 20000);
      // Few distinct counts and ranks: ties everywhere, also between ranks.
      const count = Float64Array.from({ length: m }, () => (r() < 0.1 ? 0 : 1 + Math.floor(r() * r() * 6)));
      const rank = Float64Array.from({ length: m }, () => Math.floor(r() * 500));
      // Key order: rank, then id (agrees with rank).
      const before = (a: number, b: number) => rank[a]! - rank[b]! || a - b;
      const truth = Array.from(count.keys())
        .filter((i) => count[i]! > 0)
        .sort((a, b) => count[b]! - count[a]! || before(a, b))
        .slice(0, n);
      const ts = topCandidates(count, rank, n);
      const where = `seed ${seed}, n ${n}, round ${round}, m ${m}`;
      expect(topIds(count, n, before, ts), where).toEqual(truth);
      if (addon) expect(Array.from(getBackend("native").topCandidates!(count, rank, n)), where).toEqual(Array.from(ts));
    }
  });
});

describe("topIds over candidates that share one rank", () => {
  it("keeps the first n in key order, as a full sort would", () => {
    // 5000 ids tied on count and rank (one IPv6 /48, say): all are candidates; the key order decides.
    const m = 5000;
    const count = new Float64Array(m).fill(1);
    count[4321] = 2;
    const rank = new Float64Array(m).fill(7);
    const key = Float64Array.from({ length: m }, (_, i) => (i * 7919) % m);
    const before = (a: number, b: number) => key[a]! - key[b]!;
    const cands = topCandidates(count, rank, 10);
    expect(cands.length).toBe(m);
    const full = Array.from(cands)
      .sort((a, b) => count[b]! - count[a]! || before(a, b))
      .slice(0, 10);
    expect(topIds(count, 10, before, cands)).toEqual(full);
    expect(full[0]).toBe(4321);
  });
});

describe.skipIf(!addon)("native topCandidates arguments", () => {
  it("refuses arrays of the wrong type or a rank shorter than count, before the addon sees them", () => {
    const native = getBackend("native");
    expect(() => native.topCandidates!(new Float64Array(4), new Float64Array(3), 1)).toThrow(TypeError);
    expect(() => native.topCandidates!(new Int32Array(4) as unknown as Float64Array, new Float64Array(4), 1)).toThrow(TypeError);
    expect(() => native.topCandidates!(new Float64Array(4), new Float64Array(4), 1.5)).toThrow(RangeError);
  });
});
