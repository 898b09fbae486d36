/**
 * `analyze --live` on a real kernel: a namespace with a known mix of flows, read through each
 * source (ctnetlink, /proc, conntrack -L) by the built CLI inside the namespace, must count exactly
 * what the saved /proc text gives offline; the live ctnetlink dump must aggregate exactly like the
 * /proc text read at the same moment; and an unprivileged user gets one line and exit 3.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyze } from "../src/engine/analyze.js";
import { emptyFilter } from "../src/engine/contract.js";
import { DIMENSIONS } from "../src/engine/types.js";
import { netlinkAddon } from "../src/live/netlink.js";
import { scanBuffer } from "../src/parse/tokenizer.js";
import { toJsonObject } from "../src/report/serialize.js";
import { ensureBuilt, LIVE_FIXTURES, liveCommand, ROOT } from "./fixtures/live/cli.js";
import { asNobody } from "./helpers/cli.js";
import { createNamespace, type KnownFlows, kernelTestSupport, type Ns, openKnownFlows } from "./helpers/netns.js";

const support = kernelTestSupport();
if (!support.ok) console.log(`live-sources: skipped: ${support.reason}`);
const addon = netlinkAddon();
if (support.ok && !addon) console.log("live-sources: ctnetlink cases skipped: the native addon with ctnetlink support is not loaded");

type Doc = Record<string, unknown> & {
  entries: number;
  live: { source: string; count: number; max: number; fill: number; scan: { seq: number; entries: number } | null };
};

/** Everything that must match between a live document and the offline analysis (timeouts excepted: they tick). */
function counts(doc: Record<string, unknown>) {
  const top = doc.top as Record<string, Array<{ key: string; count: number; unreplied: number }>>;
  return {
    lines: doc.lines,
    entries: doc.entries,
    malformed: doc.malformed,
    unreplied: doc.unreplied,
    assured: doc.assured,
    offloaded: doc.offloaded,
    natted: doc.natted,
    by_family: doc.by_family,
    by_proto: doc.by_proto,
    // Remaining timeouts tick down between two reads of a live table: compared without them.
    by_state: (doc.by_state as Array<Record<string, unknown>>).map(({ max_timeout: _, ...row }) => row),
    distinct: doc.distinct,
    local: doc.local,
    top: Object.fromEntries(DIMENSIONS.map((d) => [d, top[d]!.map((r) => [r.key, r.count, r.unreplied])])),
  };
}

describe.skipIf(!support.ok)("live sources on a real kernel", () => {
  let ns: Ns;
  let flows: KnownFlows;
  let offline: ReturnType<typeof counts>;

  const run = (args: string[], timeoutMs = 60_000) => ns.exec("node", [...liveCommand(), ...args], { allowFail: true, timeoutMs });

  beforeAll(async () => {
    ensureBuilt();
    ns = await createNamespace("live");
    flows = await openKnownFlows(ns);
    // The loopback addresses are what the live run finds on the namespace's interfaces.
    const snap = await analyze({ inputs: [flows.files.proc], top: 1000, threads: 1, hostLocal: ["127.0.0.1/32", "::1/128"] });
    offline = counts(JSON.parse(JSON.stringify(toJsonObject(snap))));
  }, 120_000);

  afterAll(async () => {
    await flows?.stop();
    await ns?.destroy();
  });

  it("the offline analysis of the saved /proc text holds the known flows", () => {
    expect(offline.entries).toBe(flows.total);
    expect(offline.entries).toBe(27);
    expect(offline.unreplied).toBe(flows.counts.tcp_unreplied + flows.counts.udp_unreplied);
  });

  for (const source of ["proc", "netlink", "conntrack"] as const) {
    it(`--once --json --source ${source} counts what the saved /proc text gives offline`, async (ctx) => {
      if (source === "netlink" && !addon) ctx.skip();
      const r = await run(["--once", "--json", "--source", source, "--top", "1000"]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as Doc;
      expect(counts(doc)).toEqual(offline);
      expect(doc.live.source).toBe(source);
      expect(doc.live.count).toBe(27);
      expect(doc.live.max).toBe(Number(readFileSync("/proc/sys/net/netfilter/nf_conntrack_max", "utf8")));
      expect(doc.live.scan?.entries).toBe(27);
      expect(doc).toHaveProperty("health");
      expect(doc).toHaveProperty("anomalies");
    });
  }

  it("analyze with no input reads this host's table: /proc when readable, else the ctnetlink dump", async (ctx) => {
    const bin = join(ROOT, "bin", "ctscope.js");
    const proc = await ns.exec("node", [bin, "analyze", "--json", "--top", "1000"], { allowFail: true, timeoutMs: 60_000 });
    expect(proc.stderr).toBe("");
    expect(proc.code).toBe(0);
    const fromProc = JSON.parse(proc.stdout) as Doc;
    expect(fromProc.sources).toEqual(["/proc/net/nf_conntrack"]);
    expect(counts(fromProc)).toEqual(offline);
    if (!addon) ctx.skip();
    // A kernel built without the /proc file: the same report from the ctnetlink dump.
    const nl = await ns.exec("env", ["CTSCOPE_PROC_TABLE=/nonexistent/nf_conntrack", "node", bin, "analyze", "--json", "--top", "1000"], {
      allowFail: true,
      timeoutMs: 60_000,
    });
    expect(nl.stderr).toBe("");
    expect(nl.code).toBe(0);
    const fromNetlink = JSON.parse(nl.stdout) as Doc;
    expect(fromNetlink.sources).toEqual(["ctnetlink dump (native)"]);
    expect(counts(fromNetlink)).toEqual(offline);
    expect(fromNetlink).toHaveProperty("health");
    // check reads the same table the same way (its status also depends on the host's kernel log).
    const unreplied = flows.counts.tcp_unreplied + flows.counts.udp_unreplied;
    for (const env of ["CTSCOPE_PROC_TABLE=/proc/net/nf_conntrack", "CTSCOPE_PROC_TABLE=/nonexistent/nf_conntrack"]) {
      const c = await ns.exec("env", [env, "node", bin, "check"], { allowFail: true, timeoutMs: 60_000 });
      expect(c.stdout, env).toMatch(new RegExp(`^CONNTRACK [A-Z]+ - fill [\\d.]+% \\(27/\\d+\\).*\\|.* unreplied=${unreplied};`));
    }
  });

  it("auto picks the native ctnetlink dump when the addon has it", async () => {
    const r = await run(["--once", "--json"]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Doc).live.source).toBe(addon ? "netlink" : "proc");
  });

  it("the live ctnetlink dump aggregates exactly like /proc read at the same moment", async (ctx) => {
    if (!addon) ctx.skip();
    const prefix = join(ns.dir, "now");
    const r = await ns.exec("node", [join(LIVE_FIXTURES, "record.mjs"), prefix], { allowFail: true });
    expect(r.code, r.stderr).toBe(0);
    const raw = readFileSync(`${prefix}.nlbin`);
    const proc = readFileSync(`${prefix}.proc.txt`);
    const nl = addon!.netlinkParse(raw, emptyFilter());
    const tx = scanBuffer(proc, 0, proc.length, emptyFilter());
    expect(Buffer.from(nl.keys).equals(Buffer.from(tx.keys))).toBe(true);
    expect([...nl.values]).toEqual([...tx.values]);
    expect([...nl.counters]).toEqual([...tx.counters]);
    expect([...nl.hist]).toEqual([...tx.hist]);
    expect(nl.counters[1]).toBe(27);
  });

  it("--json without --once writes one document per interval, top cut to --top", async () => {
    const r = await ns.exec("timeout", ["-s", "INT", "2.6", "node", ...liveCommand(), "--json", "--interval", "0.5", "--top", "2"], {
      allowFail: true,
    });
    const docs = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Doc);
    expect(docs.length).toBeGreaterThanOrEqual(3);
    expect(docs.length).toBeLessThanOrEqual(6);
    for (const d of docs) {
      expect(d.entries).toBe(27);
      expect(d.live.count).toBe(27);
      expect((d.top as Record<string, unknown[]>).remote).toHaveLength(2);
    }
    const seqs = docs.map((d) => (d.live as unknown as { seq: number }).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it("--once without --json prints the screen once, then the full diagnosis", async () => {
    const r = await run(["--once", "--source", "proc"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^ ctscope live {2}\/proc\/net\/nf_conntrack · every 1s · \d\d:\d\d:\d\d · sort: count$/);
    expect(lines[1]).toMatch(/^Table {4}\[░{40}\] 0\.0% {2}27 \/ [\d,]+ {2}effective 0\.0% \(without UNREPLIED\)$/);
    expect(lines[3]).toMatch(/^Scan {5}#1: 27 entries in \d+\.\d\d s, every 1s/);
    expect(lines.findIndex((l) => l.startsWith("Top remotes"))).toBeGreaterThan(3);
    const health = lines.indexOf("Health");
    expect(health).toBeGreaterThan(lines.findIndex((l) => l.startsWith("Top source prefixes")));
    expect(lines.some((l) => /^Anomalies \(\d+\)$/.test(l))).toBe(true);
    expect(lines.some((l) => /^Recommendations \(\d+\)$/.test(l))).toBe(true);
  });

  it("filters apply to the tables, not to the gauge", async () => {
    const r = await run(["--once", "--json", "--proto", "udp"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc & { filtered: number; live: { filtered: boolean } };
    expect(doc.entries).toBe(flows.counts.udp_replied + flows.counts.udp_unreplied);
    expect(doc.filtered).toBe(27 - doc.entries);
    expect(doc.live.count).toBe(27);
    expect(doc.live.filtered).toBe(true);
  });
});

function runAsNobody(args: string[]): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      "setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", "node", ...liveCommand(), ...args],
      { cwd: ROOT, encoding: "utf8", timeout: 30_000 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

const nobody = asNobody();
if ("reason" in nobody) console.log(`live-sources: tests as nobody skipped: ${nobody.reason}`);

describe.skipIf(!support.ok || "reason" in nobody)("what a user without the rights gets", () => {
  it("not root: one line saying what is missing, exit 3", async () => {
    const r = await runAsNobody(["--once", "--json"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ctscope: cannot read the live conntrack table: it needs root \(CAP_NET_ADMIN\)/);
  });

  it("a source that cannot work when asked for by name: exit 3", async () => {
    const r = await runAsNobody(["--once", "--source", "proc"]);
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe("ctscope: --source proc: /proc/net/nf_conntrack is not readable (run as root)");
  });

  it("bad options: exit 2 before anything is read", async () => {
    const r = await runAsNobody(["--once", "--interval", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--interval/);
  });
});
