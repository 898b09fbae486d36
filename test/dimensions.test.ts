/**
 * The dimensions of a merged table (ids per address, prefix, service, remote+service+state, the
 * local side, and the sums per id): exact values on a small table for both backends, and the
 * native buildDimensions equal to the TS one in every field on random tables (seed printed,
 * replay with CTSCOPE_SEED).
 */
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/engine/backend.js";
import { emptyFilter } from "../src/engine/contract.js";
import { buildDimensions, type Dimensions, type LocalSpec, T_IPV4, T_IPV6, T_UNREPLIED } from "../src/engine/dimensions.js";
import { parseCidrs } from "../src/engine/filter.js";
import { FlowTable } from "../src/engine/flowtable.js";
import type { MergedTable } from "../src/engine/merge.js";
import { KEY_BYTES } from "../src/parse/layout.js";
import { scanBuffer } from "../src/parse/tokenizer.js";
import { formatAddress } from "../src/report/address.js";
import { analyzeText } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";
import { expectSameDimensions } from "./helpers/dimensions-compare.js";
import { loadNative } from "./helpers/native-compare.js";
import { LineGen } from "./helpers/random-lines.js";

const addon = loadNative("dimensions");
const seed = Number(process.env.CTSCOPE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`dimensions: seed ${seed} (replay with CTSCOPE_SEED=${seed})`);

/** The merged table of some lines, scanned and merged in TS. */
function tableOf(lines: string[]): MergedTable {
  const text = Buffer.from(`${lines.join("\n")}\n`, "latin1");
  const agg = scanBuffer(text, 0, text.length, emptyFilter());
  const t = new FlowTable(16);
  t.mergeFrom(agg.keys, agg.values, agg.keys.length / KEY_BYTES);
  return { size: t.size, keys: t.keys, values: t.values };
}

type Build = (t: MergedTable, local: LocalSpec, traffic: boolean) => Dimensions;
const builders: Array<[string, Build]> = [["ts", buildDimensions]];
if (addon) builders.push(["native", getBackend("native").buildDimensions!]);

const tcp = (src: string, dst: string, sport: number, dport: number, extra = "") =>
  `tcp      6 431999 ESTABLISHED src=${src} dst=${dst} sport=${sport} dport=${dport} packets=2 bytes=100 src=${dst} dst=${src} sport=${dport} dport=${sport} packets=1 bytes=60 [ASSURED]${extra} mark=0 use=1`;
const udp = (src: string, dst: string, sport: number, dport: number) =>
  `udp      17 29 src=${src} dst=${dst} sport=${sport} dport=${dport} packets=1 bytes=70 [UNREPLIED] src=${dst} dst=${src} sport=${dport} dport=${sport} packets=0 bytes=0 mark=0 use=1`;

/** Three flow classes (3, 2 and 1 entries), IPv4 and IPv6. */
const SMALL = [
  tcp("10.0.0.1", "192.0.2.1", 40001, 443),
  tcp("10.0.0.1", "192.0.2.1", 40002, 443),
  tcp("10.0.0.1", "192.0.2.1", 40003, 443),
  udp("198.51.100.7", "10.0.0.1", 5353, 53),
  udp("198.51.100.7", "10.0.0.1", 5354, 53),
  tcp("2001:db8::5", "2001:db8::1", 50000, 22),
];

describe.each(builders)("dimensions (%s)", (_name, build) => {
  const t = tableOf(SMALL);
  const text = (d: Dimensions, id: number) => formatAddress(d.addrFamily[id]!, d.addrBytes, id * 16);

  it("gives ids in first-seen order and the sums per id", () => {
    const d = build(t, { mode: "given", cidrs: parseCidrs(["10.0.0.0/8", "2001:db8::1"], "--local") }, true);
    expect(t.size).toBe(3);
    expect(Array.from(d.addrFamily)).toEqual([4, 4, 4, 6, 6]);
    expect([0, 1, 2, 3, 4].map((id) => text(d, id))).toEqual(["10.0.0.1", "192.0.2.1", "198.51.100.7", "2001:db8::5", "2001:db8::1"]);
    // Each address's 16 bytes, as in the keys: 10.0.0.1 is class 0's source, 2001:db8::1 class 2's destination.
    expect(d.addrBytes.length).toBe(5 * 16);
    expect(Buffer.from(d.addrBytes.subarray(0, 16)).equals(Buffer.from(t.keys.subarray(8, 24)))).toBe(true);
    expect(Buffer.from(d.addrBytes.subarray(4 * 16, 5 * 16)).equals(Buffer.from(t.keys.subarray(2 * 40 + 24, 2 * 40 + 40)))).toBe(true);
    expect(Array.from(d.src)).toEqual([0, 2, 3]);
    expect(Array.from(d.dst)).toEqual([1, 0, 4]);
    // Outbound to 192.0.2.1, inbound from 198.51.100.7 and 2001:db8::5.
    expect(Array.from(d.remote)).toEqual([1, 2, 3]);
    expect(Array.from(d.local)).toEqual([0, 0, 4]);
    expect(Array.from(d.localCount)).toEqual([5, 0, 0, 0, 1]);
    expect(Array.from(d.count)).toEqual([3, 2, 1]);
    expect(Array.from(d.dport)).toEqual([443, 53, 22]);
    expect(Array.from(d.sums.src.count)).toEqual([3, 0, 2, 1, 0]);
    expect(Array.from(d.sums.dst.count)).toEqual([2, 3, 0, 0, 1]);
    expect(Array.from(d.sums.remote.count)).toEqual([0, 3, 2, 1, 0]);
    expect(Array.from(d.sums.remote.unreplied)).toEqual([0, 0, 2, 0, 0]);
    expect(Array.from(d.sums.src.packets)).toEqual([9, 0, 2, 3, 0]);
    expect(Array.from(d.sums.src.bytes)).toEqual([480, 0, 140, 160, 0]);
    expect(Array.from(d.service)).toEqual([0, 1, 2]);
    expect(Array.from(d.serviceClass)).toEqual([0, 1, 2]);
    expect(Array.from(d.srcPrefix)).toEqual([0, 1, 2]);
    expect(Array.from(d.prefixAddr)).toEqual([0, 2, 3]);
    expect(Array.from(d.sums.src_prefix.count)).toEqual([3, 2, 1]);
    expect(Array.from(d.sums.remote_service_state.count)).toEqual([3, 2, 1]);
    expect(d.totals[T_IPV4]).toBe(5);
    expect(d.totals[T_IPV6]).toBe(1);
    expect(d.totals[T_UNREPLIED]).toBe(2);
    expect(d.protoCounts[6]).toBe(4);
    expect(d.protoCounts[17]).toBe(2);
  });

  it("without traffic the packet and byte sums are empty", () => {
    const d = build(t, { mode: "inferred", cidrs: [] }, false);
    expect(d.sums.src.packets.length).toBe(0);
    expect(d.sums.service.bytes.length).toBe(0);
    expect(Array.from(d.sums.src.count)).toEqual([3, 0, 2, 1, 0]);
  });

  it("infers the side with more distinct peers as local", () => {
    const d = build(t, { mode: "inferred", cidrs: [] }, false);
    // 10.0.0.1 has two peers, everyone else one. The IPv6 pair ties on peers and on entries: the destination is local.
    expect(Array.from(d.local)).toEqual([0, 0, 4]);
    expect(Array.from(d.remote)).toEqual([1, 2, 3]);
  });
});

describe.skipIf(!addon)("native buildDimensions equals the TS one", () => {
  const native = getBackend("native");
  const cidrs = parseCidrs(["10.0.0.0/8", "192.0.0.0/3", "2001:db8::/33", "2001:db8:0:0::/64"], "--local");

  it.each([0, 1, 2, 3, 4])("random table %i: every field of every dimension", (k) => {
    const s = seed + k * 104729;
    const gen = new LineGen(s, { hosts: 6 + (k % 3) * 30, ports: 4 + k });
    const t = tableOf(gen.lines(3000, 0.05));
    expect(t.size).toBeGreaterThan(50);
    for (const local of [
      { mode: "inferred", cidrs: [] },
      { mode: "given", cidrs },
      { mode: "host", cidrs: [] },
    ] as LocalSpec[]) {
      for (const traffic of [true, false]) {
        const a = native.buildDimensions!(t, local, traffic);
        const b = buildDimensions(t, local, traffic);
        expectSameDimensions(a, b, `seed ${s}, ${local.mode}, traffic ${traffic}`);
      }
    }
  });

  it.each([0, 1, 2])("random chunks %i: the native merge's own dimensions equal the TS ones of the merged table", (k) => {
    const s = seed + k * 7919;
    const gen = new LineGen(s, { hosts: 10 + k * 25, ports: 5 + k });
    // Several chunks that share classes: the merge adds them up.
    const chunks = [0, 1, 2, 3].map(() => {
      const text = Buffer.from(`${gen.lines(800, 0.05).join("\n")}\n`, "latin1");
      return scanBuffer(text, 0, text.length, emptyFilter());
    });
    const merged = new FlowTable(16);
    for (const c of chunks) merged.mergeFrom(c.keys, c.values, c.keys.length / KEY_BYTES);
    const t: MergedTable = { size: merged.size, keys: merged.keys, values: merged.values };
    for (const local of [
      { mode: "inferred", cidrs: [] },
      { mode: "given", cidrs },
    ] as LocalSpec[]) {
      for (const traffic of [true, false]) {
        const m = native.tableMerge!();
        for (const c of chunks) m.add(c.keys, c.values);
        const a = m.dimensions!(local, traffic);
        expectSameDimensions(a, buildDimensions(t, local, traffic), `seed ${s}, ${local.mode}, traffic ${traffic}`);
        // The merge starts empty again.
        expect(m.take().keys.length).toBe(0);
      }
    }
  });

  it("tens of thousands of IPv6 addresses in one /64: every address its own id, as in TS", () => {
    // Addresses that differ only in their low 64 bits meet in the same probe runs of the interners.
    const lines: string[] = [];
    for (let i = 0; i < 30000; i++) {
      const lo = ((i * 2654435761) >>> 0).toString(16).padStart(8, "0");
      lines.push(udp(`2001:db8:1:2::${lo.slice(0, 4)}:${lo.slice(4)}`, "2001:db8::53", 1024 + (i % 50000), 53));
    }
    const t = tableOf(lines);
    for (const local of [
      { mode: "inferred", cidrs: [] },
      { mode: "given", cidrs },
    ] as LocalSpec[]) {
      const a = native.buildDimensions!(t, local, false);
      expect(a.addrFamily.length).toBe(t.size + 1);
      expectSameDimensions(a, buildDimensions(t, local, false), `one /64, ${local.mode}`);
    }
  });

  it("rejects a table whose arrays are shorter than its size, before the addon sees it", () => {
    const t = tableOf(SMALL);
    expect(() => native.buildDimensions!({ ...t, size: t.size + 1000 }, { mode: "inferred", cidrs: [] }, false)).toThrow(RangeError);
  });

  it("rejects keys no scanner makes instead of indexing past its tables", () => {
    const t = tableOf(SMALL);
    const keys = t.keys.slice();
    keys[0] = 9; // family
    expect(() => native.buildDimensions!({ ...t, keys }, { mode: "inferred", cidrs: [] }, false)).toThrow(/unknown family or state/);
  });
});

describe.each(BACKENDS)("the snapshot's flow columns (%s backend)", (backend) => {
  it("carry entries per remote, source prefix and service, as the classes add up", async () => {
    const gen = new LineGen(seed + 7, { hosts: 40, ports: 6 });
    const s = await analyzeText(gen.lines(2000, 0).join("\n"), backend, {});
    const f = s.flows;
    const remote = new Float64Array(f.addresses);
    const prefix = new Float64Array(f.prefixes);
    const service = new Float64Array(f.services);
    for (let i = 0; i < f.n; i++) {
      remote[f.remote[i]!]! += f.count[i]!;
      prefix[f.srcPrefix[i]!]! += f.count[i]!;
      service[f.service[i]!]! += f.count[i]!;
    }
    expect(f.n).toBeGreaterThan(50);
    expect(Array.from(f.remoteCount)).toEqual(Array.from(remote));
    expect(Array.from(f.prefixCount)).toEqual(Array.from(prefix));
    expect(Array.from(f.serviceCount)).toEqual(Array.from(service));
  });
});
