/**
 * The dimensions the ctnetlink dump builds class by class while it runs (native DimensionTracker)
 * against buildDimensions on the finished table, TS and native, every field: on the recorded
 * kernel dumps and on random synthetic dumps (seed printed, replay with CTSCOPE_SEED), with
 * filters, counters and several local sides. A snapshot made from them must equal the usual one.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { getBackend } from "../src/engine/backend.js";
import { type CompiledFilter, emptyFilter } from "../src/engine/contract.js";
import { buildDimensions, type LocalSpec } from "../src/engine/dimensions.js";
import { compileFilter, parseCidrs } from "../src/engine/filter.js";
import { type MergedTable, Merger } from "../src/engine/merge.js";
import { buildSnapshot } from "../src/engine/snapshot.js";
import { Rng } from "../src/gen/rng.js";
import { localCidrBytes, type NetlinkAggregate, netlinkAddon } from "../src/live/netlink.js";
import { C_ACCT, KEY_BYTES } from "../src/parse/layout.js";
import { toJsonObject } from "../src/report/serialize.js";
import { expectSameDimensions } from "./helpers/dimensions-compare.js";
import { BOTH, cat, done, type EntrySpec, entry, IPS, inv, type TupleSpec } from "./helpers/netlink-messages.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "live");
const addon = netlinkAddon();
const seed = Number(process.env.CTSCOPE_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`netlink-dimensions: seed ${seed} (replay with CTSCOPE_SEED=${seed})`);

const LOCALS: Array<[string, LocalSpec]> = [
  ["loopback host", { mode: "host", cidrs: parseCidrs(["127.0.0.1/32", "::1/128"], "host address") }],
  ["networks", { mode: "given", cidrs: parseCidrs(["10.0.0.0/8", "192.0.2.0/24", "2001:db8::/33"], "--local") }],
  ["everything", { mode: "given", cidrs: parseCidrs(["0.0.0.0/0", "::/0"], "--local") }],
  ["a host that is not in the table", { mode: "given", cidrs: parseCidrs(["198.18.0.1/32"], "--local") }],
];

function tableOf(a: NetlinkAggregate): MergedTable {
  return { size: a.keys.length / KEY_BYTES, keys: a.keys, values: a.values };
}

/**
 * The dimensions built while parsing (perBuffer messages at a time) equal both batch builders',
 * and the aggregate is the one without them.
 */
function expectTracked(bytes: Uint8Array, filter: CompiledFilter, local: LocalSpec, where: string, perBuffer?: number): NetlinkAggregate {
  const tracked = addon!.netlinkParse(bytes, filter, localCidrBytes(local), perBuffer);
  const plain = addon!.netlinkParse(bytes, filter);
  expect(plain.dimensions).toBeUndefined();
  expect(Buffer.from(tracked.keys).equals(Buffer.from(plain.keys)), where).toBe(true);
  expect(Array.from(tracked.values), where).toEqual(Array.from(plain.values));
  expect(Array.from(tracked.counters), where).toEqual(Array.from(plain.counters));
  const t = tableOf(tracked);
  const traffic = tracked.counters[C_ACCT]! > 0;
  expect(tracked.dimensions, where).toBeDefined();
  expectSameDimensions(tracked.dimensions!, buildDimensions(t, local, traffic), `${where} (TS)`);
  expectSameDimensions(tracked.dimensions!, getBackend("native").buildDimensions!(t, local, traffic), `${where} (native)`);
  return tracked;
}

const V4 = ["10.0.0.1", "10.0.0.2", "10.9.8.7", "192.0.2.1", "192.0.2.77", "198.51.100.3", "203.0.113.9", "127.0.0.1"];
const V6 = ["2001:db8::1", "2001:db8::2", "2001:db8:0:1::5", "2001:db8:8000::9", "fd00::1", "::1"];

/** A random dump of n entries: addresses from small pools (so classes repeat), every status flag. */
function randomDump(rng: Rng, n: number, counters: boolean): Uint8Array {
  const pick = <T>(xs: readonly T[]): T => xs[rng.below(xs.length)]!;
  // Some fresh addresses too, so that the id spaces grow past their first sizes.
  const v4 = (): string => (rng.below(4) === 0 ? `100.${rng.below(64)}.${rng.below(256)}.${rng.below(256)}` : pick(V4));
  const v6 = (): string => (rng.below(4) === 0 ? `2001:db8:${rng.below(65536).toString(16)}::${rng.below(65536).toString(16)}` : pick(V6));
  const parts: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const six = rng.below(5) === 0;
    const src = six ? v6() : v4();
    const dst = six ? v6() : v4();
    const kind = rng.below(6);
    let orig: TupleSpec;
    let state: [number, number] | undefined;
    if (kind <= 1) {
      orig = { src, dst, proto: 6, sport: 30000 + rng.below(40), dport: pick([22, 80, 443, 8080]) };
      state = [1, 1 + rng.below(8)];
    } else if (kind <= 3) {
      orig = { src, dst, proto: 17, sport: 40000 + rng.below(30), dport: pick([53, 123, 7001]) };
    } else if (kind === 4) {
      orig = six ? { src, dst, proto: 58, icmp: [128, 0, rng.below(5)] } : { src, dst, proto: 1, icmp: [8, 0, rng.below(5)] };
    } else {
      orig = { src, dst, proto: 132, sport: 5000, dport: 36412 };
      state = [3, 1 + rng.below(7)];
    }
    let reply = inv(orig);
    if (orig.icmp) reply = { ...reply, icmp: [orig.proto === 58 ? 129 : 0, 0, orig.icmp[2]] };
    // Now and then a NAT'd reply.
    if (orig.sport !== undefined && rng.below(8) === 0) reply = { ...reply, dport: 61000 + rng.below(10) };
    const status = pick([BOTH, IPS.CONFIRMED, BOTH | IPS.OFFLOAD, BOTH | IPS.OFFLOAD | IPS.HW_OFFLOAD, IPS.SEEN_REPLY | IPS.CONFIRMED]);
    const spec: EntrySpec = { orig, reply, status, timeout: rng.below(500000), state };
    if (counters) spec.counters = [rng.below(1000), rng.below(2 ** 31), rng.below(1000), rng.below(2 ** 31)];
    parts.push(entry(spec));
  }
  parts.push(done());
  return cat(...parts);
}

describe.skipIf(!addon)("dimensions built during the dump", () => {
  for (const name of ["flows", "nat"]) {
    const raw = readFileSync(join(FIXTURES, `${name}.nlbin`));
    it(`${name}.nlbin: every field equals buildDimensions, for each local side`, () => {
      for (const [label, local] of LOCALS) {
        for (const perBuffer of [undefined, 1, 4]) expectTracked(raw, emptyFilter(), local, `${name}, ${label}, ${perBuffer}`, perBuffer);
      }
    });
    it(`${name}.nlbin: with filters`, () => {
      for (const f of [{ proto: ["udp"] }, { state: ["ESTABLISHED"] }, { dst: ["127.0.0.5/32"] }, { port: ["1"] }]) {
        expectTracked(raw, compileFilter(f), LOCALS[0]![1], `${name}, filter ${JSON.stringify(f)}`);
      }
    });
  }

  it.each([0, 1, 2, 3])("random dump %i: every field equals buildDimensions", (k) => {
    const s = seed + k * 7919;
    const rng = new Rng();
    rng.reset(s);
    const bytes = randomDump(rng, 1500 + k * 1500, k % 2 === 1);
    for (const [label, local] of LOCALS) {
      // As one buffer, and as datagrams of a few messages (classes then arrive a few at a time).
      for (const perBuffer of [undefined, 1, 13, 200]) {
        const a = expectTracked(bytes, emptyFilter(), local, `seed ${s}, ${label}, ${perBuffer ?? "all"} per buffer`, perBuffer);
        expect(a.keys.length / KEY_BYTES).toBeGreaterThan(200);
      }
    }
    expectTracked(
      bytes,
      compileFilter({ proto: ["tcp", "icmp"], src: ["10.0.0.0/8", "2001:db8::/32"] }),
      LOCALS[1]![1],
      `seed ${s}, filtered`,
    );
  });

  it("an empty dump gives empty dimensions", () => {
    const a = expectTracked(done(), emptyFilter(), LOCALS[0]![1], "empty");
    expect(a.dimensions!.count.length).toBe(0);
    expect(a.dimensions!.sums.src.count.length).toBe(0);
  });

  it("a snapshot from them is the snapshot buildDimensions gives", () => {
    const rng = new Rng();
    rng.reset(seed);
    const bytes = randomDump(rng, 3000, true);
    const local = LOCALS[1]![1];
    const a = addon!.netlinkParse(bytes, emptyFilter(), localCidrBytes(local));
    const meta = { backend: "native" as const, sources: ["netlink"], bytes: 0, top: 7, elapsedMs: 0 };
    // The reference builds its dimensions in TS: the native batch builder is the same code.
    const snapshot = (dims: boolean) => {
      const m = new Merger(getBackend(dims ? "native" : "ts"));
      m.add(0, 0, a);
      return toJsonObject(buildSnapshot(m, local, meta, dims ? a.dimensions : undefined), {});
    };
    const reference = snapshot(false);
    expect(reference.entries).toBe(3000);
    expect(snapshot(true)).toEqual(reference);
  });

  it("refuses local CIDRs that are not encoded CIDRs", () => {
    expect(() => addon!.netlinkParse(done(), emptyFilter(), new Uint8Array(5))).toThrow(RangeError);
    expect(() => addon!.netlinkParse(done(), emptyFilter(), [1, 2] as unknown as Uint8Array)).toThrow(TypeError);
    for (const per of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e20, "2"]) {
      expect(() => addon!.netlinkParse(done(), emptyFilter(), undefined, per as number), String(per)).toThrow(RangeError);
    }
    // The dump checks them before it starts (no socket is opened).
    expect(() => addon!.netlinkDump(emptyFilter(), Uint8Array.of(4, 33, ...new Uint8Array(16)))).toThrow(RangeError);
  });

  it("buildSnapshot refuses dimensions of another table", () => {
    const raw = readFileSync(join(FIXTURES, "flows.nlbin"));
    const local = LOCALS[0]![1];
    const a = addon!.netlinkParse(raw, emptyFilter(), localCidrBytes(local));
    const other = addon!.netlinkParse(readFileSync(join(FIXTURES, "nat.nlbin")), emptyFilter(), localCidrBytes(local));
    const m = new Merger(getBackend("native"));
    m.add(0, 0, a);
    const meta = { backend: "native" as const, sources: ["netlink"], bytes: 0, top: 5, elapsedMs: 0 };
    expect(() => buildSnapshot(m, local, meta, other.dimensions)).toThrow(/not this table's/);
  });
});
