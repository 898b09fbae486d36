/**
 * The live numbers between two ticks: counter rates (with resets), growth and time to full, the
 * adaptive scan period, kernel log counting, per-CPU rows, the document and option checks.
 */
import { describe, expect, it } from "vitest";
import type { ConntrackStats } from "../src/diagnose/types.js";
import { UsageError } from "../src/errors.js";
import { effectiveFill, liveDocument, liveInfo, type TickInput } from "../src/live/document.js";
import { type HostReading, KernelLogWatcher, statsFromRows } from "../src/live/host.js";
import { counterRate, GROWTH_WINDOW_MS, Meter, timeToFull } from "../src/live/meter.js";
import { parseInterval, validateLiveOptions } from "../src/live/options.js";
import { nextScanPeriodMs, nextTickMs } from "../src/live/sampler.js";
import { factsWith } from "../src/live/session.js";

function stats(totals: Record<string, number>): ConntrackStats {
  return { format: "proc", columns: Object.keys(totals), cpus: 2, entries: null, totals };
}

function reading(at: number, count: number | null, totals: Record<string, number> | null, max = 1000): HostReading {
  return { at, count, countSource: "sysctl", max, stats: totals ? stats(totals) : null, statsSource: totals ? "proc" : null };
}

describe("counter rates", () => {
  it("per second between two readings", () => {
    expect(counterRate(reading(0, 1, { drop: 10 }), reading(2000, 1, { drop: 30 }), "drop")).toBe(10);
    expect(counterRate(reading(0, 1, { drop: 10 }), reading(500, 1, { drop: 10 }), "drop")).toBe(0);
  });

  it("unknown when a counter went backwards (reset, 32-bit wrap), is missing, or no time passed", () => {
    expect(counterRate(reading(0, 1, { drop: 10 }), reading(1000, 1, { drop: 3 }), "drop")).toBeNull();
    expect(counterRate(reading(0, 1, { drop: 10 }), reading(1000, 1, {}), "drop")).toBeNull();
    expect(counterRate(null, reading(1000, 1, { drop: 3 }), "drop")).toBeNull();
    expect(counterRate(reading(0, 1, null), reading(1000, 1, { drop: 3 }), "drop")).toBeNull();
    expect(counterRate(reading(1000, 1, { drop: 1 }), reading(1000, 1, { drop: 3 }), "drop")).toBeNull();
  });
});

describe("growth and time to full", () => {
  it("time to full from the growth rate; 0 once full; unknown when not growing", () => {
    expect(timeToFull(600, 1000, 100)).toBe(4);
    expect(timeToFull(1000, 1000, 0)).toBe(0);
    expect(timeToFull(1200, 1000, null)).toBe(0);
    expect(timeToFull(600, 1000, 0)).toBeNull();
    expect(timeToFull(600, 1000, -5)).toBeNull();
    expect(timeToFull(null, 1000, 5)).toBeNull();
    expect(timeToFull(600, 0, 5)).toBeNull();
  });

  it("the meter measures growth over its window and drops per second", () => {
    const m = new Meter();
    expect(m.update(reading(0, 100, { drop: 0, early_drop: 5, insert_failed: 0 }))).toEqual({
      countRate: null,
      timeToFull: null,
      drop: null,
      earlyDrop: null,
      insertFailed: null,
    });
    expect(m.update(reading(1000, 300, { drop: 40, early_drop: 5, insert_failed: 2 }))).toEqual({
      countRate: 200,
      timeToFull: 3.5,
      drop: 40,
      earlyDrop: 0,
      insertFailed: 2,
    });
    m.update(reading(2000, 500, { drop: 40, early_drop: 5, insert_failed: 2 }));
    // Older samples leave the window: the rate follows the recent slope.
    for (let t = 3000; t <= 2000 + GROWTH_WINDOW_MS + 2000; t += 1000) m.update(reading(t, 500, { drop: 40 }));
    expect(m.last.countRate).toBe(0);
    expect(m.last.timeToFull).toBeNull();
  });

  it("the history keeps the last samples only", () => {
    const m = new Meter();
    for (let i = 0; i < 300; i++) m.record(i / 300, i);
    expect(m.fillHistory).toHaveLength(240);
    expect(m.dropHistory[0]).toBe(60);
    expect(m.dropHistory[239]).toBe(299);
    m.record(null, null);
    expect(m.fillHistory[239]).toBe(0);
  });
});

describe("the scan period", () => {
  it("is the interval while scans are cheap", () => {
    expect(nextScanPeriodMs(1000, 120, 80)).toBe(1000);
    expect(nextScanPeriodMs(2000, 900, 999)).toBe(2000);
  });

  it("stretches so that scans use at most half a core on average, in whole intervals", () => {
    expect(nextScanPeriodMs(1000, 4890, 4000)).toBe(10000);
    expect(nextScanPeriodMs(1000, 600, 1200)).toBe(3000);
    expect(nextScanPeriodMs(500, 1000, 100)).toBe(2000);
    expect(nextScanPeriodMs(1000, 1000, 1000, 1)).toBe(1000);
  });
});

describe("the tick grid", () => {
  it("is start + k * interval, whatever a tick costs", () => {
    expect(nextTickMs(1000, 5, Number.NEGATIVE_INFINITY)).toBe(1000);
    expect(nextTickMs(1000, 1012, 1003)).toBe(2000);
    expect(nextTickMs(1000, 1480, 1470)).toBe(2000);
    expect(nextTickMs(500, 2250, 2010)).toBe(2500);
  });

  it("skips the next point after a tick that ran late, so ticks stay half an interval apart", () => {
    expect(nextTickMs(1000, 1998, 1998)).toBe(3000);
    expect(nextTickMs(1000, 1700, 1600)).toBe(3000);
    expect(nextTickMs(1000, 1499, 1499)).toBe(2000);
    // A tick that overran whole intervals resumes on the grid, not in a burst.
    expect(nextTickMs(1000, 4300, 4300)).toBe(5000);
  });
});

describe("kernel log", () => {
  it("counts table-full messages as they arrive, partial lines included, and the ones naming this namespace", () => {
    const w = new KernelLogWatcher("4026532999");
    w.feed("[  100.000001] nf_conntrack: nf_conntrack: table full in netns 4026532999, dropping packet\n[  100.2] nf_conn");
    expect(w.tableFull).toBe(1);
    w.feed("track: table full, dropping packet\n");
    w.feed("[  101.0] nf_conntrack: nf_conntrack: table full in netns 4026531840, dropping packet\n[  101.1] eth0: link up\n");
    expect(w.tableFull).toBe(3);
    expect(w.own).toBe(1);
    const init = new KernelLogWatcher("init");
    init.feed("[  100.2] nf_conntrack: table full, dropping packet\n");
    expect(init.own).toBe(1);
  });
});

describe("per-CPU rows from ctnetlink", () => {
  it("sum into the statistics the diagnosis reads", () => {
    expect(
      statsFromRows([
        { cpu: 0, found: 1, drop: 5, early_drop: 0 },
        { cpu: 1, found: 2, drop: 7, early_drop: 1 },
      ]),
    ).toEqual({
      format: "conntrack-S",
      columns: ["found", "drop", "early_drop"],
      cpus: 2,
      entries: null,
      totals: { found: 3, drop: 12, early_drop: 1 },
    });
  });
});

describe("the live document", () => {
  const tick: TickInput = {
    seq: 3,
    startedAt: performance.now() - 2000,
    source: "proc",
    sourceLabel: "/proc/net/nf_conntrack",
    intervalS: 1,
    count: 750,
    max: 1000,
    totals: { drop: 9, early_drop: 1, insert_failed: 0 },
    statsSource: "proc",
    rates: { countRate: 50, timeToFull: 5, drop: 2, earlyDrop: 0, insertFailed: 0 },
    kernel: { all: 4, here: 1 },
    filtered: false,
    scan: { info: { seq: 2, time: "t", elapsed_ms: 10, cpu_ms: 9, period_s: 1, entries: 700 }, entries: 700, unreplied: 140 },
    notes: [],
  };

  it("fill, effective fill (the scan's UNREPLIED share applied to the count) and the counters", () => {
    const info = liveInfo(tick);
    expect(info.fill).toBe(0.75);
    expect(info.effective_fill).toBeCloseTo(0.6, 12);
    expect(info.drop_total).toBe(9);
    expect(info.drop_rate).toBe(2);
    expect(info.kernel_table_full).toBe(4);
    expect(info.kernel_table_full_here).toBe(1);
    expect(info.uptime_s).toBeGreaterThanOrEqual(2);
    expect(effectiveFill(null, 1000, 10, 1)).toBeNull();
    expect(effectiveFill(100, 1000, 0, 0)).toBe(0.1);
  });

  it("cuts every top table to --top and keeps the rest of the scan's document", () => {
    const scanDoc = { entries: 700, top: { remote: [1, 2, 3], service: [1] } };
    const d = liveDocument(scanDoc, liveInfo(tick), 2);
    expect(d.top).toEqual({ remote: [1, 2], service: [1] });
    expect(d.entries).toBe(700);
    expect(scanDoc.top.remote).toHaveLength(3);
    expect(liveDocument(null, liveInfo(tick)).live.seq).toBe(3);
  });

  it("host facts for the diagnosis carry the tick's count, max and statistics", () => {
    const f = factsWith(null, reading(0, 321, { drop: 4 }, 4096));
    expect(f.origin).toBe("live");
    expect(f.count).toBe(321);
    expect(f.max).toBe(4096);
    expect(f.stats?.totals).toEqual({ drop: 4 });
    const g = factsWith({ ...f, count: 1, buckets: 1024, notes: ["x"] }, reading(0, null, null, 8192));
    expect(g.count).toBe(1);
    expect(g.max).toBe(8192);
    expect(g.buckets).toBe(1024);
    expect(g.notes).toEqual(["x"]);
  });
});

describe("options", () => {
  it("defaults and checks", () => {
    const o = validateLiveOptions({});
    expect([o.interval, o.top, o.source, o.threads]).toEqual([1, 10, "auto", 1]);
    expect(() => validateLiveOptions({ interval: 0 })).toThrow(UsageError);
    expect(() => validateLiveOptions({ interval: 4000 })).toThrow(/--interval/);
    expect(() => validateLiveOptions({ top: 0 })).toThrow(/--top/);
    expect(() => validateLiveOptions({ source: "nfct" as never })).toThrow(/--source must be one of auto, netlink, proc, conntrack/);
    expect(parseInterval("0.5")).toBe(0.5);
    expect(parseInterval("2")).toBe(2);
    expect(() => parseInterval("1s")).toThrow(UsageError);
    expect(() => parseInterval("0.01")).toThrow(/from 0.1 to 3600/);
  });
});
