import { describe, expect, it } from "vitest";
import { nativeAddon } from "../src/engine/backend.js";
import { emptyFilter } from "../src/engine/contract.js";
import { generateBuffer } from "../src/gen/generate.js";
import { GEN_FORMATS, plantedTruth } from "../src/gen/model.js";
import { comparableTruth, tallyAggregate } from "../src/gen/tally.js";
import { C_ENTRIES, C_FORM_L3, C_FORM_PLAIN, C_FORM_XML, C_IGNORED, C_LINES, C_MALFORMED } from "../src/parse/layout.js";
import { scanBuffer } from "../src/parse/tokenizer.js";

const N = 20_000;

describe("every generated format parses completely and matches the planted truth", () => {
  for (const format of GEN_FORMATS) {
    for (const acct of [false, true]) {
      it(`${format}${acct ? " --acct" : ""}`, () => {
        const buf = generateBuffer({ n: N, seed: 42, format, acct });
        const agg = scanBuffer(buf, 0, buf.length, emptyFilter());
        const truth = plantedTruth(N, 42, format, acct);
        expect(agg.malformedText).toEqual([]);
        expect(agg.counters[C_MALFORMED]).toBe(0);
        expect(agg.counters[C_ENTRIES]).toBe(N);
        expect(agg.counters[C_LINES]).toBe(format === "xml" ? N + 3 : N);
        expect(agg.counters[C_IGNORED]).toBe(format === "xml" ? 3 : 0);
        const form = format === "xml" ? C_FORM_XML : format === "proc" || format === "extended" ? C_FORM_L3 : C_FORM_PLAIN;
        expect(agg.counters[form]).toBe(N);
        expect(tallyAggregate(agg, truth)).toEqual(comparableTruth(truth));
      });
    }
  }
});

const addon = nativeAddon();
if (!addon) console.log("gen-formats: native addon not loaded, the native recount checks are skipped");

describe.skipIf(!addon)("the native backend recounts the same planted truth", () => {
  for (const format of GEN_FORMATS) {
    it(format, () => {
      const buf = generateBuffer({ n: N, seed: 43, format, acct: format === "conntrack" });
      const agg = addon!.scanBuffer(buf, 0, buf.length, emptyFilter());
      const truth = plantedTruth(N, 43, format, format === "conntrack");
      expect(tallyAggregate(agg, truth)).toEqual(comparableTruth(truth));
    });
  }
});

describe("planted truth", () => {
  it("has the documented sizes for 1000 entries", () => {
    const t = plantedTruth(1000, 7);
    expect(t.planted.dominantRemote).toEqual({ remote: "192.0.2.77", local: "198.51.100.10", port: 5228, state: "ESTABLISHED", count: 50 });
    expect(t.planted.synFlood.count).toBe(80);
    expect(t.planted.synFlood.byState).toEqual({ SYN_RECV: 60, SYN_SENT: 20 });
    // One of every four SYNs hits 443: floor(60/4) + floor(20/4).
    expect(t.planted.synFlood.byPort).toEqual({ "80": 60, "443": 20 });
    expect(t.planted.dnsFlood.count).toBe(100);
    expect(t.planted.v6Remote).toEqual({
      remote: "2001:db8:ffff::77",
      local: "2001:db8:1::10",
      port: 443,
      state: "ESTABLISHED",
      count: 30,
    });
    const kindSum = Object.values(t.kinds).reduce((a, b) => a + b, 0);
    expect(kindSum).toBe(1000);
    expect(t.family.ipv4 + t.family.ipv6).toBe(1000);
    expect(Object.values(t.state).reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it("counts do not depend on the seed, only on N", () => {
    expect(plantedTruth(12345, 1).kinds).toEqual(plantedTruth(12345, 99).kinds);
  });

  it("legacy is IPv4 only: the IPv6 remote becomes 192.0.2.66 with the same count", () => {
    const t = plantedTruth(1000, 7, "legacy");
    expect(t.family).toEqual({ ipv4: 1000, ipv6: 0 });
    expect(t.proto.icmpv6).toBeUndefined();
    expect(t.planted.v6Remote).toEqual({ remote: "192.0.2.66", local: "198.51.100.10", port: 443, state: "ESTABLISHED", count: 30 });
  });

  it("small and empty dumps", () => {
    for (const n of [0, 1, 2, 7]) {
      const buf = generateBuffer({ n, seed: 3 });
      const agg = scanBuffer(buf, 0, buf.length, emptyFilter());
      expect(agg.counters[C_ENTRIES]).toBe(n);
      expect(agg.counters[C_MALFORMED]).toBe(0);
      const t = plantedTruth(n, 3);
      expect(tallyAggregate(agg, t)).toEqual(comparableTruth(t));
    }
    expect(generateBuffer({ n: 0, format: "xml" }).toString()).toBe('<?xml version="1.0" encoding="utf-8"?>\n<conntrack>\n</conntrack>\n');
  });
});
