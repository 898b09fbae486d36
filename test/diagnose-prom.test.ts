import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectHostFactsFromTexts } from "../src/diagnose/hostfacts.js";
import { diagnose } from "../src/diagnose/index.js";
import { CtscopeError } from "../src/errors.js";
import { escapeLabel, renderProm, writeFileAtomic } from "../src/report/prom.js";
import { buildSnapshot, ipv4, rows } from "./helpers/snapshot-builder.js";

const fx = (name: string) => readFileSync(new URL(`fixtures/diagnose/${name}`, import.meta.url), "latin1");
const dir = mkdtempSync(join(tmpdir(), "ctscope-prom-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const promtool = spawnSync("promtool", ["--version"]);
const havePromtool = promtool.status === 0;
if (!havePromtool) console.log("skipping promtool check: promtool is not installed");

function scenario() {
  const snap = buildSnapshot([
    { src: "10.0.0.5", dst: "142.250.1.188", dport: 5228, remote: "dst", count: 52000, maxTimeout: 431000 },
    ...rows(300, (i) => ({ src: "10.0.0.5", dst: ipv4(151, i * 3), dport: 443, remote: "dst" as const, count: 10, maxTimeout: 431500 })),
    { src: "203.0.113.66", dst: "10.0.0.5", dport: 80, state: "SYN_RECV", count: 3000, maxTimeout: 59 },
    ...rows(1500, (i) => ({ src: ipv4(100, i), dst: "10.0.0.53", proto: "udp", dport: 53, maxTimeout: 25 })),
  ]);
  // A key with every character the format must escape.
  snap.top.src[0] = { ...snap.top.src[0]!, key: 'odd "key" with \\ and\nnewline' };
  const facts = collectHostFactsFromTexts({
    sysctl: fx("sysctl-a.txt"),
    stats: fx("stat-chainlength.txt"),
    kernelLog: fx("dmesg.txt"),
    slabinfo: fx("slabinfo.txt"),
    meminfo: fx("meminfo.txt"),
  });
  return { snap, d: diagnose(snap, facts) };
}

describe("renderProm", () => {
  it("HELP and TYPE for every family, _total only on counters, values of the diagnosis", () => {
    const { snap, d } = scenario();
    const text = renderProm(snap, d, { top: 3 });
    const lines = text.trimEnd().split("\n");
    const families = new Set(lines.filter((l) => !l.startsWith("#")).map((l) => l.split(/[{ ]/)[0]!));
    for (const f of families) {
      expect(f.startsWith("ctscope_")).toBe(true);
      expect(lines).toContain(`# TYPE ${f} ${f.endsWith("_total") ? "counter" : "gauge"}`);
      expect(lines.some((l) => l.startsWith(`# HELP ${f} `))).toBe(true);
    }
    expect(lines).toContain("ctscope_conntrack_entries 58982");
    expect(lines).toContain("ctscope_conntrack_max_entries 65536");
    expect(lines).toContain("ctscope_conntrack_stat_drop_total 384");
    expect(lines).toContain("ctscope_conntrack_stat_chaintoolong_total 5");
    expect(lines).toContain('ctscope_conntrack_memory_bytes{at="now"} 15623680');
    expect(lines).toContain("ctscope_kernel_log_dropped_packets 215");
    expect(lines).toContain('ctscope_table_entries_by_state{protocol="tcp",state="SYN_RECV"} 3000');
    expect(lines).toContain('ctscope_table_entries_by_state{protocol="udp",state=""} 1500');
    expect(lines).toContain('ctscope_table_state_max_timeout_seconds{protocol="tcp",state="ESTABLISHED"} 431500');
    expect(lines).toContain('ctscope_table_state_max_timeout_seconds{protocol="tcp",state="SYN_RECV"} 59');
    expect(lines).toContain(`ctscope_anomalies{severity="critical"} ${d.anomalies.filter((a) => a.severity === "critical").length}`);
    expect(lines).toContain("ctscope_status 2");
    expect(lines).toContain("ctscope_table_entries_without_timeout 0");
    expect(lines).toContain('ctscope_table_top_entries{dimension="src",key="odd \\"key\\" with \\\\ and\\nnewline"} 55000');
  });

  it("label cardinality is bounded by top", () => {
    const { snap, d } = scenario();
    const text = renderProm(snap, d, { top: 3 });
    const top = text.split("\n").filter((l) => l.startsWith("ctscope_table_top_entries{"));
    expect(top).toHaveLength(6 * 3);
    expect(text.split("\n").filter((l) => l.startsWith("ctscope_anomaly{"))).toHaveLength(3);
    const one = renderProm(snap, d, { top: 1 });
    expect(one.split("\n").filter((l) => l.startsWith("ctscope_table_top_entries{"))).toHaveLength(6);
  });

  it("host facts only: no table metrics, still valid", () => {
    const d = diagnose(
      null,
      collectHostFactsFromTexts({ sysctl: "net.netfilter.nf_conntrack_count = 10\nnet.netfilter.nf_conntrack_max = 100\n" }),
    );
    const text = renderProm(null, d, { top: 5 });
    expect(text).toContain("ctscope_conntrack_fill_ratio 0.1\n");
    expect(text).not.toContain("ctscope_table_");
    expect(text).toContain("ctscope_status 0\n");
  });

  it("escapes label values", () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });

  it.skipIf(!havePromtool)("passes promtool check metrics", async () => {
    const { snap, d } = scenario();
    const file = join(dir, "ctscope.prom");
    await writeFileAtomic(file, renderProm(snap, d, { top: 10 }));
    const r = spawnSync("promtool", ["check", "metrics"], { input: readFileSync(file) });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
    expect(r.status).toBe(0);
    const r2 = spawnSync("promtool", ["check", "metrics"], { input: renderProm(null, diagnose(null, null), { top: 10 }) });
    expect(`${r2.stdout}${r2.stderr}`.trim()).toBe("");
    expect(r2.status).toBe(0);
  });
});

describe("writeFileAtomic", () => {
  it("replaces the file whole and leaves no temporary file", async () => {
    const file = join(dir, "atomic.prom");
    writeFileSync(file, "old\n");
    await writeFileAtomic(file, "new\n");
    expect(readFileSync(file, "utf8")).toBe("new\n");
    expect(readdirSync(dir).filter((n) => n.includes("atomic"))).toEqual(["atomic.prom"]);
  });

  it("a missing directory is a CtscopeError naming the path", async () => {
    const file = join(dir, "no-such-dir", "x.prom");
    await expect(writeFileAtomic(file, "x")).rejects.toThrow(new CtscopeError(`${file}: no such file or directory`));
  });
});
