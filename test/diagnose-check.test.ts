import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Command } from "@commander-js/extra-typings";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type CheckDeps, formatCheck, registerCheck, runCheck } from "../src/commands/check.js";
import { collectHostFactsFromTexts } from "../src/diagnose/hostfacts.js";
import { diagnose } from "../src/diagnose/index.js";
import { DEFAULT_THRESHOLDS } from "../src/diagnose/thresholds.js";
import type { HostFacts } from "../src/diagnose/types.js";
import { analyze } from "../src/engine/analyze.js";

const path = (name: string) => fileURLToPath(new URL(`fixtures/diagnose/${name}`, import.meta.url));
const DUMP = path("check-dump.txt");
const base = { threads: "1", backend: "ts" };

/** Live-host dependencies with given facts and no readable live table. */
function fakeLive(facts: HostFacts): CheckDeps {
  return {
    collectLive: async () => facts,
    analyze: async () => {
      throw new Error("the live table must not be read");
    },
    liveTable: path("no-such-live-table"),
    scanNetlink: async () => null,
  };
}

describe("formatCheck with input warnings", () => {
  const at = (count: number) =>
    diagnose(
      null,
      collectHostFactsFromTexts({ sysctl: `net.netfilter.nf_conntrack_count = ${count}\nnet.netfilter.nf_conntrack_max = 100\n` }),
    );
  const w = ["d.gz: the compressed data ends early; analysed the 10 bytes of whole lines before that point"];

  it("an incomplete input turns OK and WARNING into UNKNOWN and keeps CRITICAL, with the perfdata of what was read", () => {
    const ok = formatCheck(at(10), DEFAULT_THRESHOLDS);
    expect(ok.code).toBe(0);
    const perf = ok.line.slice(ok.line.indexOf("|"));
    expect(formatCheck(at(10), DEFAULT_THRESHOLDS, w)).toEqual({
      code: 3,
      line: `CONNTRACK UNKNOWN - input incomplete: ${w[0]}; fill 10% (10/100), no anomalies${perf}`,
    });
    expect(formatCheck(at(80), DEFAULT_THRESHOLDS).code).toBe(1);
    expect(formatCheck(at(80), DEFAULT_THRESHOLDS, w).code).toBe(3);
    const critical = formatCheck(at(99), DEFAULT_THRESHOLDS, w);
    expect(critical.code).toBe(2);
    expect(critical.line).toMatch(
      new RegExp(`^CONNTRACK CRITICAL - input incomplete: ${w[0]!.replace(/[.]/g, "\\.")}; fill 99% \\(99/100\\); critical: `),
    );
  });

  it("says 1 entry in the singular", () => {
    const one = diagnose(null, collectHostFactsFromTexts({ sysctl: "net.netfilter.nf_conntrack_count = 1\n" }));
    expect(formatCheck(one, DEFAULT_THRESHOLDS).line).toMatch(/^CONNTRACK OK - 1 entry \(nf_conntrack_max unknown\), no anomalies\|/);
  });

  it("leads an UNKNOWN without a count too", () => {
    expect(formatCheck(diagnose(null, null), DEFAULT_THRESHOLDS, w).line).toBe(
      `CONNTRACK UNKNOWN - input incomplete: ${w[0]}; no entry count (conntrack not loaded?)`,
    );
  });

  it("a warning with the perfdata separator or a line break cannot break the status line", () => {
    const r = formatCheck(at(10), DEFAULT_THRESHOLDS, ["a|b\nc"]);
    expect(r.line.split("|")).toHaveLength(2);
    expect(r.line).toContain("input incomplete: a b c; ");
  });
});

describe("runCheck", () => {
  it("a dump without host facts: OK with the entry count", async () => {
    const r = await runCheck({ ...base, inputs: [DUMP] });
    expect(r).toEqual({
      code: 0,
      line: "CONNTRACK OK - 20 entries (nf_conntrack_max unknown), no anomalies|entries=20;;;0; unreplied=3;;;0; anomalies_critical=0;;1;0; anomalies_warning=0;1;;0;",
    });
  });

  it("a gzip dump cut short: UNKNOWN with the warning, the perfdata of what was read", async () => {
    const full = gzipSync(Buffer.concat(Array.from({ length: 3000 }, () => readFileSync(DUMP))));
    const dir = mkdtempSync(join(tmpdir(), "ctscope-check-"));
    const cut = join(dir, "cut.gz");
    writeFileSync(cut, full.subarray(0, full.length >> 1));
    try {
      const r = await runCheck({ ...base, inputs: [cut] });
      expect(r.code).toBe(3);
      expect(r.line).toMatch(
        new RegExp(
          `^CONNTRACK UNKNOWN - input incomplete: ${cut.replace(/[.]/g, "\\.")}: the compressed data ends early; analysed the [\\d,]+ bytes of whole lines before that point[^|]*; \\d+ entries \\(nf_conntrack_max unknown\\)[^|]*\\|entries=\\d+;`,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fill at 75%: WARNING (exit 1) with perfdata thresholds", async () => {
    const r = await runCheck({ ...base, inputs: [DUMP], sysctl: path("check-sysctl-warning.txt") });
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/^CONNTRACK WARNING - fill 75% \(15\/20\); warning: Table 75\.0% full: 15 of 20 entries\|/);
    expect(r.line).toContain("|entries=15;15;18;0;20 fill=75.00%;75;90;0;100 effective_fill=");
    expect(r.line).toContain(" avg_chain=0.938;8;;0; ");
  });

  it("fill at 95%: CRITICAL (exit 2); thresholds from the options", async () => {
    expect((await runCheck({ ...base, inputs: [DUMP], sysctl: path("check-sysctl-critical.txt") })).code).toBe(2);
    expect(
      (await runCheck({ ...base, inputs: [DUMP], sysctl: path("check-sysctl-critical.txt"), warning: "96", critical: "99" })).code,
    ).toBe(0);
    expect(
      (await runCheck({ ...base, inputs: [DUMP], sysctl: path("check-sysctl-warning.txt"), warning: "50", critical: "70" })).code,
    ).toBe(2);
  });

  it("other thresholds are options too", async () => {
    const r = await runCheck({
      ...base,
      inputs: [DUMP],
      thresholds: { "min-entries": "10", "dominant-share": "50", "dominant-ratio": "5" },
    });
    expect(r.code).toBe(1);
    expect(r.line).toContain("warning: Dominant remote 142.250.1.188 tcp/5228: 12 entries (60.0% of the table");
  });

  it("bad values, contradicting thresholds, missing inputs: UNKNOWN (exit 3) with one line", async () => {
    const bad = await runCheck({ ...base, inputs: [DUMP], warning: "abc" });
    expect(bad).toEqual({ code: 3, line: "CONNTRACK UNKNOWN - --warning must be a number from 0 to 100, got 'abc'" });
    const inverted = await runCheck({ ...base, inputs: [DUMP], warning: "95", critical: "90" });
    expect(inverted).toEqual({ code: 3, line: "CONNTRACK UNKNOWN - the fill warning (95%) must not be above the critical (90%)" });
    const t = await runCheck({ ...base, inputs: [DUMP], thresholds: { "scan-ports": "1" } });
    expect(t.line).toBe("CONNTRACK UNKNOWN - --scan-ports must be a whole number from 2 to 65535, got '1'");
    const missing = path("missing-dump.txt");
    const m = await runCheck({ ...base, inputs: [missing] });
    expect(m.code).toBe(3);
    expect(m.line).toMatch(/^CONNTRACK UNKNOWN - .*missing-dump\.txt/);
    expect(m.line).not.toContain("\n");
    const s = await runCheck({ ...base, inputs: [DUMP], stats: path("sysctl-a.txt") });
    expect(s.code).toBe(3);
    expect(s.line).toContain("sysctl-a.txt: line 1: not /proc/net/stat/nf_conntrack");
  });

  it("live host facts only (no readable table)", async () => {
    const ok = collectHostFactsFromTexts({ sysctl: "net.netfilter.nf_conntrack_count = 10\nnet.netfilter.nf_conntrack_max = 100\n" });
    expect(await runCheck({ inputs: [] }, fakeLive(ok))).toEqual({
      code: 0,
      line: "CONNTRACK OK - fill 10% (10/100), no anomalies|entries=10;75;90;0;100 fill=10.00%;75;90;0;100 anomalies_critical=0;;1;0; anomalies_warning=0;1;;0;",
    });
    const gone = collectHostFactsFromTexts({});
    gone.notes.push("/proc/sys/net/netfilter: no such file or directory (nf_conntrack not loaded?)");
    expect(await runCheck({ inputs: [] }, fakeLive(gone))).toEqual({
      code: 3,
      line: "CONNTRACK UNKNOWN - /proc/sys/net/netfilter: no such file or directory (nf_conntrack not loaded?)",
    });
    const log = collectHostFactsFromTexts({
      sysctl: "net.netfilter.nf_conntrack_count = 10\nnet.netfilter.nf_conntrack_max = 100\n",
      kernelLog: "[ 10.0] nf_conntrack: table full, dropping packet\n",
    });
    log.kernelLog!.lastAgeSeconds = 5;
    const r = await runCheck({ inputs: [] }, fakeLive(log));
    expect(r.code).toBe(2);
    expect(r.line).toContain(" log_table_full=1;;;0; log_estimated_drops=1;;;0; ");
  });

  it("no /proc table: the table over ctnetlink when it can be read, not when --no-table", async () => {
    const facts = collectHostFactsFromTexts({ sysctl: "net.netfilter.nf_conntrack_count = 20\nnet.netfilter.nf_conntrack_max = 100\n" });
    const table = await analyze({ inputs: [DUMP], threads: 1, backend: "ts", top: 10 });
    const asked: unknown[] = [];
    const deps: CheckDeps = {
      ...fakeLive(facts),
      scanNetlink: async (opts) => {
        asked.push(opts);
        return table;
      },
    };
    const r = await runCheck({ inputs: [], threads: "1", backend: "ts" }, deps);
    expect(asked).toEqual([{ threads: 1, backend: "ts", local: undefined, hostLocal: expect.any(Array) }]);
    // The fill from the count, the unreplied entries from the table read.
    expect(r).toEqual({
      code: 0,
      line: "CONNTRACK OK - fill 20% (20/100), no anomalies|entries=20;75;90;0;100 fill=20.00%;75;90;0;100 effective_fill=17.00%;;;0;100 unreplied=3;;;0; anomalies_critical=0;;1;0; anomalies_warning=0;1;;0;",
    });
    asked.length = 0;
    const noTable = await runCheck({ inputs: [], table: false }, deps);
    expect(asked).toEqual([]);
    expect(noTable.line).not.toContain("unreplied=");
  });

  it("offline fact files without inputs", async () => {
    const r = await runCheck({ inputs: [], sysctl: path("sysctl-a.txt"), stats: path("conntrack-S-5.x.txt") });
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/^CONNTRACK WARNING - fill 89.9% \(58982\/65536\); warning: Table 89.9% full/);
    expect(r.line).toContain(" drop=3c early_drop=1c insert_failed=3c invalid=150c search_restart=15c ");
  });
});

describe("ctscope check (commander)", () => {
  afterEach(() => {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });

  async function cli(args: string[]): Promise<{ out: string; code: number | undefined }> {
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const program = new Command().exitOverride();
    registerCheck(program);
    await program.parseAsync(["node", "ctscope", "check", ...args]);
    vi.restoreAllMocks();
    return { out, code: typeof process.exitCode === "number" ? process.exitCode : undefined };
  }

  it("prints one line and sets the exit code", async () => {
    const warn = await cli([DUMP, "--threads", "1", "--backend", "ts", "--sysctl", path("check-sysctl-warning.txt")]);
    expect(warn.code).toBe(1);
    expect(warn.out.split("\n")).toHaveLength(2);
    expect(warn.out).toMatch(/^CONNTRACK WARNING - /);
    const crit = await cli([DUMP, "--backend", "ts", "-w", "10", "-c", "50", "--sysctl", path("check-sysctl-warning.txt")]);
    expect(crit.code).toBe(2);
    const ok = await cli([DUMP, "--backend", "ts", "--min-entries", "100000"]);
    expect(ok.code).toBe(0);
    const unknown = await cli([DUMP, "--backend", "ts", "--drops-min", "-1"]);
    expect(unknown.code).toBe(3);
    expect(unknown.out).toBe("CONNTRACK UNKNOWN - --drops-min must be a whole number from 0 to 1000000000000000, got '-1'\n");
  });
});

const haveLive = existsSync("/proc/sys/net/netfilter/nf_conntrack_count");
if (!haveLive) console.log("skipping the live check: nf_conntrack is not loaded");

describe.skipIf(!haveLive)("live host", () => {
  it("reads this host and answers with a status line", async () => {
    const r = await runCheck({ inputs: [], threads: "1", backend: "ts" });
    expect([0, 1, 2]).toContain(r.code);
    expect(r.line).toMatch(/^CONNTRACK (OK|WARNING|CRITICAL) - fill \d+(\.\d)?% \(\d+\/\d+\)/);
    expect(r.line).toContain("|entries=");
  });
});
