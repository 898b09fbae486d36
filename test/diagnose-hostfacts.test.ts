import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { collectHostFactsFromTexts, collectLiveHostFacts, loadOfflineHostFacts } from "../src/diagnose/hostfacts.js";
import { parseMeminfo, parseSlabinfo, wordBitsOfArch } from "../src/diagnose/proc-text.js";
import { InputError } from "../src/errors.js";

const path = (name: string) => fileURLToPath(new URL(`fixtures/diagnose/${name}`, import.meta.url));
const fx = (name: string) => readFileSync(path(name), "latin1");

describe("loadOfflineHostFacts", () => {
  it("combines --sysctl, --stats and --kernel-log files", async () => {
    const f = await loadOfflineHostFacts({
      sysctl: path("sysctl-a.txt"),
      stats: path("stat-chainlength.txt"),
      kernelLog: path("dmesg.txt"),
    });
    expect(f.origin).toBe("files");
    expect([f.count, f.max, f.buckets]).toEqual([58982, 65536, 65536]);
    expect(f.stats?.totals.drop).toBe(384);
    expect(f.kernelLog?.tableFull).toBe(4);
    expect([f.slabObjectSize, f.memTotalBytes]).toEqual([null, null]);
    expect(f.notes).toEqual([]);
  });

  it("no files: everything unknown", async () => {
    const f = await loadOfflineHostFacts({});
    expect([f.count, f.max, f.stats, f.kernelLog, f.wordBits]).toEqual([null, null, null, null, null]);
  });

  it("an unreadable file is an InputError 'path: reason'", async () => {
    const missing = path("does-not-exist.txt");
    await expect(loadOfflineHostFacts({ stats: missing })).rejects.toThrow(
      new InputError(`${missing}: no such file or directory`, missing),
    );
    const dir = path("");
    await expect(loadOfflineHostFacts({ sysctl: dir })).rejects.toThrow(/is a directory/);
  });

  it("a file in the wrong format is an InputError naming the path and line", async () => {
    const p = path("dmesg.txt");
    const err = await loadOfflineHostFacts({ stats: p }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).message).toMatch(
      new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: line 1: not /proc/net/stat/nf_conntrack`),
    );
    expect((err as InputError).path).toBe(p);
  });
});

describe("collectHostFactsFromTexts", () => {
  it("reads slabinfo, meminfo and the word size", () => {
    const f = collectHostFactsFromTexts({ slabinfo: fx("slabinfo.txt"), meminfo: fx("meminfo.txt"), wordBits: 64 });
    expect([f.slabObjectSize, f.memTotalBytes, f.wordBits]).toEqual([256, 16318408 * 1024, 64]);
    expect(f.origin).toBe("texts");
  });

  it("takes the word size from kernel.arch when not given", () => {
    expect(collectHostFactsFromTexts({ sysctl: "kernel.arch = armv7l\n" }).wordBits).toBe(32);
  });
});

describe("small /proc parsers", () => {
  it("slabinfo: the nf_conntrack cache only, null when merged away", () => {
    expect(parseSlabinfo(fx("slabinfo.txt"))).toBe(256);
    expect(parseSlabinfo("kmalloc-256 1 1 256 16 1\n")).toBeNull();
    expect(parseSlabinfo("ip_conntrack 10 20 304 13 1 : tunables\n")).toBe(304);
  });
  it("meminfo and arch names", () => {
    expect(parseMeminfo("MemTotal:        2048 kB\n")).toBe(2048 * 1024);
    expect(parseMeminfo("nothing\n")).toBeNull();
    expect([wordBitsOfArch("x86_64"), wordBitsOfArch("i686"), wordBitsOfArch("aarch64"), wordBitsOfArch("vax")]).toEqual([
      64,
      32,
      64,
      null,
    ]);
  });
});

const LIVE = "/proc/sys/net/netfilter/nf_conntrack_max";
const haveLive = existsSync(LIVE);
if (!haveLive) console.log(`skipping live host facts: ${LIVE} not present (nf_conntrack not loaded)`);

describe.skipIf(!haveLive)("collectLiveHostFacts", () => {
  it("reads this host's settings; values match /proc", async () => {
    const f = await collectLiveHostFacts();
    expect(f.origin).toBe("live");
    expect(f.max).toBe(Number(readFileSync(LIVE, "latin1")));
    expect(f.buckets).toBe(Number(readFileSync("/proc/sys/net/netfilter/nf_conntrack_buckets", "latin1")));
    expect(f.timeouts.tcp_timeout_established).toBe(
      Number(readFileSync("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established", "latin1")),
    );
    expect(f.memTotalBytes).toBeGreaterThan(0);
    expect(f.wordBits === 32 || f.wordBits === 64).toBe(true);
    expect(f.stats === null || f.stats.cpus > 0).toBe(true);
    expect(typeof f.count).toBe("number");
    expect(f.netns).toMatch(/^\d+$/);
  });
});

const canNetns = haveLive && process.getuid?.() === 0 && spawnSync("sh", ["-c", "command -v ip"]).status === 0;
if (haveLive && !canNetns) console.log("skipping the namespace stats read: needs root and ip");

describe.skipIf(!canNetns)("a fresh network namespace's own counters", () => {
  it("parses /proc/net/stat/nf_conntrack read inside it: the current era, no entries", () => {
    const ns = `ctscope-diag-stat-${process.pid}`;
    expect(spawnSync("ip", ["netns", "add", ns]).status).toBe(0);
    try {
      const r = spawnSync("ip", ["netns", "exec", ns, "cat", "/proc/net/stat/nf_conntrack"], { encoding: "latin1" });
      expect(r.status).toBe(0);
      const f = collectHostFactsFromTexts({ stats: r.stdout });
      expect(f.stats?.format).toBe("proc");
      expect(f.stats?.cpus).toBe(r.stdout.trim().split("\n").length - 1);
      expect(f.stats?.entries).toBe(0);
      expect(f.stats?.totals.drop).toBe(0);
      expect(Object.keys(f.stats!.totals)).toEqual(
        expect.arrayContaining(["found", "invalid", "insert_failed", "drop", "early_drop", "search_restart"]),
      );
    } finally {
      spawnSync("ip", ["netns", "del", ns]);
    }
  });
});
