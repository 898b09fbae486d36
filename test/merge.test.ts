/**
 * Merging chunk tables: the native tableMerge and the TS FlowTable merge give the same classes in
 * the same first-seen order with the same sums and largest timeouts, for random splits of random
 * input (seed printed, replay with CTSCOPE_SEED), and the Merger reads the same through either.
 */
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/engine/backend.js";
import { emptyFilter } from "../src/engine/contract.js";
import { FlowTable } from "../src/engine/flowtable.js";
import { Merger } from "../src/engine/merge.js";
import { KEY_BYTES, V_COUNT, V_MAX_TIMEOUT, VALUE_FIELDS } from "../src/parse/layout.js";
import { scanBuffer } from "../src/parse/tokenizer.js";
import { loadNative } from "./helpers/native-compare.js";
import { LineGen, rng } from "./helpers/random-lines.js";

const addon = loadNative("merge");
const seed = Number(process.env.CTSCOPE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`merge: seed ${seed} (replay with CTSCOPE_SEED=${seed})`);

/** Chunk tables of random lines cut at random line boundaries. */
function chunks(s: number): Array<{ keys: Uint8Array; values: Float64Array }> {
  const gen = new LineGen(s, { hosts: 12 });
  const text = Buffer.from(`${gen.lines(4000, 0.1).join("\n")}\n`, "latin1");
  const r = rng(s + 1);
  const out = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + 1 + Math.floor(r() * 60000));
    end = end < text.length ? text.indexOf(10, end) + 1 || text.length : end;
    const agg = scanBuffer(text, start, end, emptyFilter());
    out.push({ keys: agg.keys, values: agg.values });
    start = end;
  }
  return out;
}

function tsMerge(tables: Array<{ keys: Uint8Array; values: Float64Array }>) {
  const t = new FlowTable(16);
  for (const c of tables) t.mergeFrom(c.keys, c.values, c.keys.length / KEY_BYTES);
  return t.export();
}

describe.skipIf(!addon)("native tableMerge", () => {
  const native = getBackend("native");
  const nativeMerge = (tables: Array<{ keys: Uint8Array; values: Float64Array }>) => {
    const m = native.tableMerge!();
    for (const t of tables) m.add(t.keys, t.values);
    return m.take();
  };

  it("equals the TS merge: same keys in the same order, same sums and timeouts", () => {
    for (let k = 0; k < 5; k++) {
      const tables = chunks(seed + k * 7919);
      expect(tables.length).toBeGreaterThan(1);
      const a = nativeMerge(tables);
      const b = tsMerge(tables);
      expect(Buffer.from(a.keys).equals(Buffer.from(b.keys))).toBe(true);
      expect(Array.from(a.values)).toEqual(Array.from(b.values));
      // The merge really summed repeated classes across chunks.
      const entries = tables.reduce((s, t) => s + t.keys.length / KEY_BYTES, 0);
      expect(a.keys.length / KEY_BYTES).toBeLessThan(entries);
      let total = 0;
      for (let i = V_COUNT; i < a.values.length; i += VALUE_FIELDS) total += a.values[i]!;
      expect(total).toBe(
        tables.reduce((s, t) => s + t.values.filter((_, i) => i % VALUE_FIELDS === V_COUNT).reduce((x, y) => x + y, 0), 0),
      );
    }
  });

  it("a guess at the final size (none, too small, right, too big, wild), before or between chunks, changes nothing in the result", () => {
    const tables = chunks(seed + 3);
    const reference = tsMerge(tables);
    const entries = tables.reduce((s, t) => s + t.keys.length / KEY_BYTES, 0);
    for (const guess of [0, 1, reference.keys.length / KEY_BYTES, entries * 20, 1e15, Number.NaN, -5, 2.5]) {
      const m = native.tableMerge!();
      m.expect!(guess);
      for (const [i, t] of tables.entries()) {
        m.add(t.keys, t.values);
        if (i === 1) {
          expect(m.size!()).toBeGreaterThanOrEqual(t.keys.length / KEY_BYTES);
          m.expect!(guess);
        }
      }
      expect(m.size!()).toBe(reference.keys.length / KEY_BYTES);
      const a = m.take();
      expect(Buffer.from(a.keys).equals(Buffer.from(reference.keys)), `guess ${guess}`).toBe(true);
      expect(Array.from(a.values), `guess ${guess}`).toEqual(Array.from(reference.values));
    }
    // Through a Merger told how many chunks to expect, and one told far too many.
    const merger = new Merger(native);
    merger.planChunks(tables.length);
    for (const [i, t] of tables.entries()) {
      merger.add(0, i, { counters: new Float64Array(16), hist: new Float64Array(30), ...t, malformedLines: [], malformedText: [] });
    }
    expect(Buffer.from(merger.table.keys).equals(Buffer.from(reference.keys))).toBe(true);
    const over = new Merger(native);
    over.planChunks(tables.length * 1000);
    for (const [i, t] of tables.entries()) {
      over.add(0, i, { counters: new Float64Array(16), hist: new Float64Array(30), ...t, malformedLines: [], malformedText: [] });
    }
    expect(Buffer.from(over.table.keys).equals(Buffer.from(reference.keys))).toBe(true);
  });

  it("keeps the largest timeout and -1 when no entry had one", () => {
    const key = new Uint8Array(KEY_BYTES).fill(7);
    const one = (count: number, timeout: number) => ({ keys: key, values: Float64Array.from([count, 1, 2, timeout]) });
    const m = nativeMerge([one(1, -1), one(2, 30), one(3, 10)]);
    expect(Array.from(m.values)).toEqual([6, 3, 6, 30]);
    expect(nativeMerge([one(1, -1), one(1, -1)]).values[V_MAX_TIMEOUT]).toBe(-1);
    expect(nativeMerge([]).keys.length).toBe(0);
  });

  it("rejects tables whose keys and values disagree, before the addon sees them", () => {
    expect(() => nativeMerge([{ keys: new Uint8Array(KEY_BYTES), values: new Float64Array(3) }])).toThrow(RangeError);
    expect(() => nativeMerge([{ keys: new Uint8Array(KEY_BYTES + 1), values: new Float64Array(4) }])).toThrow(RangeError);
  });

  it.each([false, true])("a Merger reads the same table through either merge, whenever it is read (chunks planned: %s)", (plan) => {
    const tables = chunks(seed + 1);
    const viaNative = new Merger(native);
    const viaTs = new Merger();
    // Planned chunks: the native merge sums the first one as it arrives instead of keeping it.
    if (plan) viaNative.planChunks(tables.length);
    tables.forEach((t, i) => {
      const agg = { counters: new Float64Array(16), hist: new Float64Array(30), ...t, malformedLines: [], malformedText: [] };
      viaNative.add(0, i, agg);
      viaTs.add(0, i, agg);
      // Reading in between (after the first chunk, which is the table by itself, and later) must
      // not lose chunks added later.
      if (i <= 1) {
        expect(viaNative.table.size).toBe(viaTs.table.size);
        expect(Array.from(viaNative.table.values.subarray(0, viaNative.table.size * VALUE_FIELDS))).toEqual(
          Array.from(viaTs.table.values.subarray(0, viaTs.table.size * VALUE_FIELDS)),
        );
      }
    });
    const a = viaNative.table;
    const b = viaTs.table;
    expect(a.size).toBe(b.size);
    expect(Buffer.from(a.keys.subarray(0, a.size * KEY_BYTES)).equals(Buffer.from(b.keys.subarray(0, b.size * KEY_BYTES)))).toBe(true);
    expect(Array.from(a.values.subarray(0, a.size * VALUE_FIELDS))).toEqual(Array.from(b.values.subarray(0, b.size * VALUE_FIELDS)));
  });

  it("releaseChunks: chunks are freed once summed, the same table results, a table handed out is kept", () => {
    const tables = chunks(seed + 2);
    expect(tables.length).toBeGreaterThan(2);
    const agg = (t: { keys: Uint8Array; values: Float64Array }) => ({
      counters: new Float64Array(16),
      hist: new Float64Array(30),
      keys: t.keys.slice(),
      values: t.values.slice(),
      malformedLines: [],
      malformedText: [],
    });
    const reference = tsMerge(tables);
    for (const [backend, plan] of [
      [native, 0],
      [native, tables.length],
      [undefined, 0],
    ] as const) {
      const m = new Merger(backend, true);
      if (plan > 0) m.planChunks(plan);
      const added = tables.map((t, i) => {
        const a = agg(t);
        m.add(0, i, a);
        // With more chunks planned the first is summed, and freed, as it arrives.
        if (i === 0 && plan > 0) expect(a.keys.byteLength).toBe(0);
        return a;
      });
      // Every chunk is detached (freed), the first one too once the second was summed.
      for (const a of added) expect([a.keys.byteLength, a.values.byteLength]).toEqual([0, 0]);
      const t = m.table;
      expect(Buffer.from(t.keys.subarray(0, t.size * KEY_BYTES)).equals(Buffer.from(reference.keys))).toBe(true);
      expect(Array.from(t.values.subarray(0, t.size * VALUE_FIELDS))).toEqual(Array.from(reference.values));
    }
    // The first chunk read as the table before the second arrives stays the reader's.
    const m = new Merger(native, true);
    const first = agg(tables[0]!);
    m.add(0, 0, first);
    const read = m.table;
    m.add(0, 1, agg(tables[1]!));
    expect(read.keys.byteLength).toBeGreaterThan(0);
    expect(first.keys.byteLength).toBeGreaterThan(0);
    // Planned: the first chunk went into the merge; the table read after it is the merge's, and
    // stays the reader's while later chunks are summed.
    const planned = new Merger(native, true);
    planned.planChunks(tables.length);
    planned.add(0, 0, agg(tables[0]!));
    const early = planned.table;
    const earlyKeys = Buffer.from(early.keys.subarray(0, early.size * KEY_BYTES));
    for (let i = 1; i < tables.length; i++) planned.add(0, i, agg(tables[i]!));
    expect(Buffer.from(early.keys.subarray(0, early.size * KEY_BYTES)).equals(earlyKeys)).toBe(true);
    const whole = planned.table;
    expect(Buffer.from(whole.keys.subarray(0, whole.size * KEY_BYTES)).equals(Buffer.from(reference.keys))).toBe(true);
    // Without releaseChunks nothing is touched.
    const keep = new Merger(native);
    const kept = [agg(tables[0]!), agg(tables[1]!)];
    for (const [i, a] of kept.entries()) keep.add(0, i, a);
    for (const a of kept) expect(a.keys.byteLength).toBeGreaterThan(0);
  });

  it("after the native merge built the dimensions, the table cannot be read", () => {
    const m = new Merger(native);
    const tables = chunks(seed + 3);
    for (const [i, t] of tables.entries()) {
      m.add(0, i, { counters: new Float64Array(16), hist: new Float64Array(30), ...t, malformedLines: [], malformedText: [] });
    }
    const d = m.dimensions({ mode: "inferred", cidrs: [] }, false);
    expect(d.count.length).toBe(tsMerge(tables).keys.length / KEY_BYTES);
    expect(() => m.table).toThrow(/went into its dimensions/);
  });
});
