import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { computeHealth, recommendHashsize, recommendMax } from "../src/diagnose/health.js";
import { collectHostFactsFromTexts } from "../src/diagnose/hostfacts.js";
import { DEFAULT_THRESHOLDS, diagnose } from "../src/diagnose/index.js";
import { buildSnapshot, rows } from "./helpers/snapshot-builder.js";

const fx = (name: string) => readFileSync(new URL(`fixtures/diagnose/${name}`, import.meta.url), "latin1");
const t = { ...DEFAULT_THRESHOLDS };

describe("health", () => {
  it("fill from nf_conntrack_count, effective fill from the table's unreplied share", () => {
    // 1000 entries, 250 unreplied; the host says 58982 of 65536.
    const snap = buildSnapshot([
      { src: "198.51.100.1", dst: "10.0.0.1", count: 750 },
      { src: "198.51.100.2", dst: "10.0.0.1", state: "SYN_SENT", unreplied: true, count: 250, maxTimeout: 100 },
    ]);
    const facts = collectHostFactsFromTexts({ sysctl: fx("sysctl-a.txt") });
    const h = computeHealth(snap, facts, t);
    expect([h.count, h.countSource, h.max]).toEqual([58982, "sysctl", 65536]);
    expect(h.fill).toBeCloseTo(58982 / 65536, 12);
    expect(h.unreplied).toBe(Math.round(58982 / 4));
    expect(h.effectiveFill).toBeCloseTo((58982 - 14746) / 65536, 12);
  });

  it("count falls back to the stats' entries, then to the table", () => {
    const stats = collectHostFactsFromTexts({ stats: fx("stat-searched.txt") });
    expect(computeHealth(null, stats, t)).toMatchObject({ count: 0xe66b, countSource: "stats", max: null, fill: null });
    const snap = buildSnapshot([{ src: "198.51.100.1", dst: "10.0.0.1", count: 42, unreplied: true }]);
    expect(computeHealth(snap, null, t)).toMatchObject({ count: 42, countSource: "table", unreplied: 42, fill: null, effectiveFill: null });
    expect(computeHealth(null, null, t)).toMatchObject({ count: null, countSource: null });
  });

  it("buckets, chain length, recommended max and hashsize, counters summed over CPUs", () => {
    const facts = collectHostFactsFromTexts({ sysctl: fx("sysctl-a.txt"), stats: fx("stat-chainlength.txt") });
    const h = computeHealth(null, facts, t);
    expect(h.buckets).toBe(65536);
    expect(h.avgChain).toBeCloseTo(58982 / 65536, 12);
    expect(h.avgChainAtMax).toBe(1);
    // 58982 at 50% needs 117964 → next multiple of 65536.
    expect(h.recommendedMax).toBe(131072);
    // 32768 would do for 131072 entries, but the table already has 65536 buckets: never shrink.
    expect(h.recommendedHashsize).toBe(65536);
    expect(h.counters).toEqual({
      drop: 384,
      early_drop: 768,
      insert_failed: 48,
      invalid: 21,
      search_restart: 10,
      chaintoolong: 5,
      clash_resolve: 4,
      error: 0,
    });
    expect([h.countersSource, h.cpus]).toEqual(["proc", 2]);
  });

  it("memory with the real slab object size, the estimate otherwise, and the RAM rule", () => {
    const facts = collectHostFactsFromTexts({ sysctl: fx("sysctl-a.txt"), slabinfo: fx("slabinfo.txt"), meminfo: fx("meminfo.txt") });
    const h = computeHealth(null, facts, t);
    expect(h.memory).toEqual({
      objectBytes: 256,
      objectSource: "slabinfo",
      nowBytes: 58982 * 256 + 65536 * 8,
      atMaxBytes: 65536 * 256 + 65536 * 8,
      atRecommendedMaxBytes: 131072 * 256 + 65536 * 8,
    });
    expect(h.ramRule).toEqual({ memTotalBytes: 16318408 * 1024, wordBits: 64, max: Math.floor((16318408 * 1024) / 16384 / 2) });
    const est = computeHealth(null, collectHostFactsFromTexts({ sysctl: fx("sysctl-a.txt") }), t);
    expect(est.memory.objectSource).toBe("estimate");
    expect(est.memory.objectBytes).toBe(320);
    expect(est.ramRule).toBeNull();
  });

  it("established timeout from sysctl, else inferred: > 86400 s remaining means at least the 5-day default", () => {
    const k8s = collectHostFactsFromTexts({ sysctl: fx("sysctl-kv.txt") });
    expect(computeHealth(null, k8s, t).establishedTimeout).toMatchObject({ seconds: 86400, source: "sysctl", atLeast: false });
    const long = buildSnapshot([{ src: "198.51.100.1", dst: "10.0.0.1", maxTimeout: 200000 }]);
    expect(computeHealth(long, null, t).establishedTimeout).toMatchObject({
      seconds: 432000,
      source: "inferred",
      atLeast: true,
      observedMax: 200000,
    });
    const short = buildSnapshot([{ src: "198.51.100.1", dst: "10.0.0.1", maxTimeout: 7100 }]);
    expect(computeHealth(short, null, t).establishedTimeout).toMatchObject({
      seconds: 7100,
      source: "inferred",
      atLeast: true,
      observedMax: 7100,
    });
    const none = buildSnapshot([{ src: "198.51.100.1", dst: "10.0.0.1", proto: "udp", dport: 53 }]);
    expect(computeHealth(none, null, t).establishedTimeout).toMatchObject({ seconds: null, source: null });
  });

  it("CLOSE_WAIT 3600 s: the kube-proxy setting, from sysctl or from the table", () => {
    const facts = collectHostFactsFromTexts({ sysctl: fx("sysctl-a.txt") });
    expect(computeHealth(null, facts, t).closeWaitTimeout).toEqual({ seconds: 3600, source: "sysctl", atLeast: false, kubeProxy: true });
    const snap = buildSnapshot([{ src: "10.0.0.1", dst: "198.51.100.9", state: "CLOSE_WAIT", maxTimeout: 3500, remote: "dst" }]);
    expect(computeHealth(snap, null, t).closeWaitTimeout).toEqual({ seconds: 3500, source: "inferred", atLeast: true, kubeProxy: true });
    const normal = buildSnapshot([{ src: "10.0.0.1", dst: "198.51.100.9", state: "CLOSE_WAIT", maxTimeout: 59, remote: "dst" }]);
    expect(computeHealth(normal, null, t).closeWaitTimeout.seconds).toBeNull();
  });

  it("sizing helpers", () => {
    expect(recommendMax(1000, 65536, 50)).toBe(65536);
    expect(recommendMax(40000, 65536, 50)).toBe(131072);
    expect(recommendMax(10, null, 50)).toBe(65536);
    expect(recommendHashsize(131072)).toBe(32768);
    expect(recommendHashsize(131073)).toBe(65536);
    expect(recommendHashsize(100)).toBe(1024);
  });

  it("diagnose works with host facts only and with nothing", () => {
    const d = diagnose(
      null,
      collectHostFactsFromTexts({ sysctl: "net.netfilter.nf_conntrack_count = 10\nnet.netfilter.nf_conntrack_max = 100\n" }),
    );
    expect(d.health.fill).toBe(0.1);
    expect(d.anomalies).toEqual([]);
    expect(diagnose(null, null)).toMatchObject({ anomalies: [], recommendations: [] });
    expect(rows(3, (i) => ({ src: `10.0.0.${i}`, dst: "10.0.0.9" }))).toHaveLength(3);
  });
});
