/**
 * The built CLI as users run it: exit codes (0 ok, 2 usage, 3 input, 4 backend), error messages
 * as `ctscope: ...` without a stack trace, the JSON schema, CSV and NDJSON, colour only on a TTY
 * (or FORCE_COLOR) and never with NO_COLOR, --top, and `doctor`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { DIMENSIONS } from "../src/engine/types.js";
import { fixture, PROC_FIXTURE_TOP_STATE } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";
import { runCli } from "./helpers/cli.js";

// Worker threads and child processes are slow on a busy 2-core machine.
vi.setConfig({ testTimeout: 60_000 });

const PROC = fixture("formats", "proc-nf_conntrack.txt");
const LISTING = fixture("formats", "conntrack-L.txt");
const MIXED = fixture("malformed", "mixed.txt");
const NO_ADDON = { CTSCOPE_ADDON_PATH: "/nonexistent/ctscope.node", CTSCOPE_BACKEND: undefined };
const ANSI = /\x1b\[/;

/** Error output: a first line `ctscope: <message>`, at most commander's hint lines, no stack trace. */
function expectCleanError(stderr: string, message: RegExp): void {
  const lines = stderr.split("\n").filter((l) => l !== "");
  expect(lines[0]).toMatch(/^ctscope: \S/);
  expect(lines[0]).toMatch(message);
  for (const l of lines.slice(1)) expect(l, stderr).toMatch(/^\((Did you mean .*\?|run with --help for usage)\)$/);
  expect(stderr).not.toMatch(/^\s+at /m);
  expect(stderr).not.toMatch(/Error:|internal error/);
}

describe("counts in the report", () => {
  it("a one-entry dump says 1 entry and 1 line, not 1 entries", () => {
    const dir = mkdtempSync(join(tmpdir(), "ctscope-cli-"));
    const one = join(dir, "one.txt");
    writeFileSync(one, `${readFileSync(PROC, "latin1").split("\n")[0]}\n`);
    try {
      const r = runCli(["analyze", one]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^ctscope 1 entry from /);
      expect(r.stdout).toContain("Input: 1 line, 1 entry, 0 malformed");
      expect(r.stdout).toMatch(/^ {2}Table +1 entry \(from the analyzed table\); nf_conntrack_max unknown/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("exit codes and messages", () => {
  it("0: a report on stdout, nothing on stderr", () => {
    const r = runCli(["analyze", PROC]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^ctscope 12 entries from /);
    expect(r.stdout).toContain("Input: 12 lines, 12 entries, 0 malformed");
    // The two offloaded entries carry no timeout: their own histogram row.
    expect(r.stdout).toMatch(/^ {2}no timeout +2 +16\.7% +\S/m);
    // Each state row with its largest remaining timeout; none for the offloaded TCP entry.
    expect(r.stdout).toMatch(/^ +PROTO +STATE +COUNT +SHARE +UNREPLIED +ASSURED +OFFLOAD +MAX TIMEOUT$/m);
    expect(r.stdout).toMatch(/^ +tcp +ESTABLISHED +4 +33\.3% +0 +4 +0 +431,999 s$/m);
    expect(r.stdout).toMatch(/^ +tcp +- +1 +8\.3% +0 +0 +1 +-$/m);
    // Remote, service and state in their own columns, under their own headers.
    expect(r.stdout).toMatch(/^ +# {2}REMOTE +SERVICE +STATE +COUNT +SHARE +UNREPLIED +PACKETS +BYTES$/m);
    expect(r.stdout).toMatch(/^ +1 {2}10\.0\.0\.2 +tcp 10\.0\.0\.1:22 +ESTABLISHED +2 +16\.7% +0 +22 +6\.1 kB$/m);
    expect(r.stdout).toMatch(/^ +3 {2}10\.0\.0\.4 +udp 10\.0\.0\.1:53 +- +1 +8\.3% /m);
  });

  it("0: malformed lines are reported, not fatal", () => {
    const r = runCli(["analyze", MIXED]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("12 malformed");
    expect(r.stdout).toContain(`${MIXED}:4: \\x1b[31mtcp`);
    expect(r.stdout).not.toMatch(ANSI);
  });

  const usage: Array<[string, string[], Record<string, string | undefined>, RegExp]> = [
    ["unknown option", ["analyze", "--nope", PROC], {}, /unknown option '--nope'/],
    ["unknown command", ["frobnicate"], {}, /unknown command 'frobnicate'/],
    ["--top 0", ["analyze", "--top", "0", PROC], {}, /--top must be a whole number from 1 to 100000/],
    ["--top abc", ["analyze", "--top", "abc", PROC], {}, /--top must be a whole number/],
    ["--threads 0", ["analyze", "--threads", "0", PROC], {}, /--threads must be a whole number/],
    ["--format xml", ["analyze", "--format", "xml", PROC], {}, /'xml' is invalid/],
    ["--backend fast", ["analyze", "--backend", "fast", PROC], {}, /'fast' is invalid/],
    ["--proto foo", ["analyze", "--proto", "foo", PROC], {}, /^ctscope: --proto: unknown protocol "foo"/],
    ["--state FOO", ["analyze", "--state", "FOO", PROC], {}, /^ctscope: --state: unknown state "FOO"/],
    ["--port 70000", ["analyze", "--port", "70000", PROC], {}, /^ctscope: --port: "70000" is not a port number/],
    ["--src 1.2.3.4/40", ["analyze", "--src", "1.2.3.4/40", PROC], {}, /^ctscope: --src: "1.2.3.4\/40" has an invalid prefix length/],
    ["--local nonsense", ["analyze", "--local", "nonsense", PROC], {}, /^ctscope: --local: "nonsense" is not an IPv4 or IPv6 address/],
    [
      "CTSCOPE_BACKEND=bogus",
      ["analyze", PROC],
      { CTSCOPE_BACKEND: "bogus" },
      /CTSCOPE_BACKEND must be auto, native or ts \(got "bogus"\)/,
    ],
    ["stdin twice", ["analyze", "-", "-"], {}, /stdin \(-\) can be given only once/],
  ];
  it.each(usage)("2: %s", (_name, args, env, message) => {
    const r = runCli(args, { env });
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expectCleanError(r.stderr, message);
  });

  it("3: a missing input, one line naming it", () => {
    const r = runCli(["analyze", PROC, "/nonexistent/dump.txt"]);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("ctscope: /nonexistent/dump.txt: no such file or directory\n");
  });

  it("1: a report that cannot be written, one line naming the file; -o writes it otherwise", () => {
    const dir = mkdtempSync(join(tmpdir(), "ctscope-cli-"));
    try {
      const missing = join(dir, "no-such-dir", "report.json");
      const r = runCli(["analyze", PROC, "--json", "-o", missing]);
      expect(r.status).toBe(1);
      expect(r.stdout).toBe("");
      expectCleanError(r.stderr, new RegExp(`^ctscope: ${missing.replace(/[.]/g, "\\.")}: no such file or directory$`));
      const out = join(dir, "report.json");
      const ok = runCli(["analyze", PROC, "--json", "-o", out]);
      expect([ok.status, ok.stdout, ok.stderr]).toEqual([0, "", ""]);
      expect(JSON.parse(readFileSync(out, "utf8")).entries).toBe(12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("4: --backend native when the addon cannot load", () => {
    const r = runCli(["analyze", "--backend", "native", PROC], { env: NO_ADDON });
    expect(r.status).toBe(4);
    expect(r.stdout).toBe("");
    expectCleanError(r.stderr, /the native backend is required but did not load; tried \/nonexistent\/ctscope\.node/);
    expect(r.stderr.split("\n")).toHaveLength(2);
  });

  it("4: CTSCOPE_BACKEND=native when the addon cannot load", () => {
    const r = runCli(["analyze", PROC], { env: { ...NO_ADDON, CTSCOPE_BACKEND: "native" } });
    expect(r.status).toBe(4);
    expectCleanError(r.stderr, /native backend is required/);
  });

  it("auto falls back to the TS backend when the addon cannot load", () => {
    const r = runCli(["analyze", "--json", PROC], { env: NO_ADDON });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).backend).toBe("ts");
  });

  it("--help and --version exit 0", () => {
    const h = runCli(["--help"]);
    expect(h.status).toBe(0);
    expect(h.stdout).toContain("analyze");
    const v = runCli(["--version"]);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe.each(BACKENDS)("output formats (%s backend)", (backend) => {
  const json = (args: string[]) => {
    const r = runCli(["analyze", "--backend", backend, ...args]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  it("--json: the documented schema", () => {
    const doc = json(["--json", PROC]);
    const keys = [
      "schema_version",
      "backend",
      "sources",
      "bytes",
      "lines",
      "entries",
      "malformed",
      "blank",
      "ignored",
      "destroyed",
      "filtered",
      "events",
      "accounted",
      "forms",
      "malformed_samples",
      "warnings",
      "by_family",
      "by_proto",
      "by_state",
      "unreplied",
      "assured",
      "offloaded",
      "natted",
      "timeouts",
      "no_timeout",
      "established_timeouts",
      "local",
      "distinct",
      "top",
      "elapsed_ms",
    ];
    for (const k of keys) expect(doc, k).toHaveProperty(k);
    expect(doc).not.toHaveProperty("classes");
    expect(doc).toMatchObject({
      schema_version: 1,
      backend,
      sources: [PROC],
      lines: 12,
      entries: 12,
      malformed: 0,
      accounted: 1,
      forms: { l3: 12, plain: 0, xml: 0 },
      unreplied: 1,
      assured: 6,
      offloaded: 2,
      natted: 2,
    });
    expect(typeof doc.elapsed_ms).toBe("number");
    const top = doc.top as Record<string, Array<Record<string, unknown>>>;
    expect(Object.keys(top).sort()).toEqual([...DIMENSIONS].sort());
    expect(Object.keys(doc.distinct as object).sort()).toEqual([...DIMENSIONS].sort());
    expect(top.service![0]).toMatchObject({
      key: "tcp 10.0.0.1:22",
      count: 2,
      proto: "tcp",
      addr: "10.0.0.1",
      port: 22,
      packets: 22,
      bytes: 6144,
    });
    expect((doc.timeouts as unknown[]).length).toBe(14);
    expect((doc.timeouts as Array<{ from: number; to: number | null }>)[13]).toMatchObject({ from: 432001, to: null });
    expect((doc.by_state as unknown[])[0]).toEqual(PROC_FIXTURE_TOP_STATE);
    expect(json(["--format", "json", PROC]).top).toEqual(doc.top);
  });

  it("--format csv: RFC 4180, one row per top-table row", () => {
    const r = runCli(["analyze", "--backend", backend, "--format", "csv", "--top", "3", LISTING]);
    expect(r.status).toBe(0);
    expect(r.stdout.endsWith("\r\n")).toBe(true);
    const rows = r.stdout.slice(0, -2).split("\r\n");
    expect(rows[0]).toBe("dimension,rank,key,count,share,unreplied,packets,bytes,proto,addr,port,state,remote");
    // src 3, dst 2, remote 3, service 3, src_prefix 2, remote_service_state 3
    expect(rows).toHaveLength(1 + 3 + 2 + 3 + 3 + 2 + 3);
    expect(rows).toContain("service,1,tcp 10.1.0.1:22,2,0.4,0,9,1500,tcp,10.1.0.1,22,,");
    // Equal counts: IPv4 addresses before IPv6, then protocol name.
    expect(rows).toContain("service,2,icmp 10.1.0.1,1,0.2,0,0,0,icmp,10.1.0.1,,,");
    expect(rows).toContain("service,3,udp 10.1.0.1:53,1,0.2,1,0,0,udp,10.1.0.1,53,,");
    expect(rows).toContain("dst,1,10.1.0.1,4,0.8,1,9,1500,,10.1.0.1,,,");
    for (const row of rows) expect(row.split(",").length).toBe(13);
  });

  it("--format ndjson: one JSON object per row", () => {
    const r = runCli(["analyze", "--backend", backend, "--format", "ndjson", "--top", "1", LISTING]);
    expect(r.status).toBe(0);
    const objs = r.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs.map((o) => o.dimension)).toEqual([...DIMENSIONS]);
    expect(objs.every((o) => o.rank === 1)).toBe(true);
    expect(objs.find((o) => o.dimension === "service")).toMatchObject({ key: "tcp 10.1.0.1:22", count: 2, port: 22 });
  });

  it("--top limits every table, distinct counts stay exact", () => {
    const doc = json(["--json", "--top", "2", PROC]);
    const top = doc.top as Record<string, unknown[]>;
    for (const dim of DIMENSIONS) expect(top[dim]!.length, dim).toBeLessThanOrEqual(2);
    expect(top.service).toHaveLength(2);
    expect((doc.distinct as Record<string, number>).service).toBe(10);
    const human = runCli(["analyze", "--backend", backend, "--top", "2", PROC]).stdout;
    expect(human).toContain("Top services (10 distinct)");
    const section = human.split("Top services")[1]!.split("\n\n")[0]!;
    expect(section.split("\n").filter((l) => /^\s+\d+\s/.test(l))).toHaveLength(2);
  });
});

describe("node options", () => {
  it("V8 options on node's command line reach the worker threads instead of stopping them", () => {
    // Big enough for the worker pool (inputs under 4 MB are scanned on the main thread).
    const dir = mkdtempSync(join(tmpdir(), "ctscope-cli-"));
    const dump = join(dir, "dump.txt");
    try {
      expect(runCli(["gen", "30000", "--seed", "3", "-o", dump]).status).toBe(0);
      const r = runCli(["analyze", dump, "--threads", "2", "--json"], { nodeArgs: ["--max-old-space-size=1024"] });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout).entries).toBe(30000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("colour", () => {
  it("not a TTY: no ANSI codes", () => {
    const r = runCli(["analyze", MIXED]);
    expect(r.stdout).not.toMatch(ANSI);
    expect(r.stderr).not.toMatch(ANSI);
  });

  it("FORCE_COLOR=1 colours the report (so the check above means something)", () => {
    expect(runCli(["analyze", MIXED], { env: { FORCE_COLOR: "1" } }).stdout).toMatch(ANSI);
  });

  it("NO_COLOR wins over FORCE_COLOR", () => {
    const r = runCli(["analyze", MIXED], { env: { FORCE_COLOR: "1", NO_COLOR: "1" } });
    expect(r.stdout).not.toMatch(ANSI);
    expect(r.stdout).toContain("Malformed lines (12;");
  });
});

describe("analyze with no input", () => {
  it("neither /proc nor ctnetlink: exit 3, one line naming both and how to pass a dump", () => {
    const r = runCli(["analyze"], { env: { ...NO_ADDON, CTSCOPE_PROC_TABLE: "/nonexistent/nf_conntrack" } });
    expect(r.status).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "ctscope: no input given, /nonexistent/nf_conntrack does not exist (no conntrack module, or CONFIG_NF_CONNTRACK_PROCFS off) and the ctnetlink dump cannot be read (the native addon with ctnetlink support is not loaded (`npm run build:native`)); pass a dump: `ctscope analyze FILE`, or `conntrack -L -o extended | ctscope analyze -`\n",
    );
  });
});

describe("doctor", () => {
  it("names the active backend", () => {
    // Auto selection is what this test checks, whatever CTSCOPE_BACKEND the suite runs under.
    const r = runCli(["doctor"], { env: { CTSCOPE_BACKEND: undefined } });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ctscope \d+\.\d+\.\d+ on Node v\d+/);
    expect(r.stdout).toMatch(new RegExp(`^backend: ${BACKENDS.includes("native") ? "native" : "ts"} \\(auto\\)$`, "m"));
  });

  it("lists every path tried when the addon does not load", () => {
    const r = runCli(["doctor"], { env: NO_ADDON });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("backend: ts (auto)");
    expect(r.stdout).toContain("native addon did not load; paths tried:");
    expect(r.stdout).toContain("  /nonexistent/ctscope.node: ");
    expect(r.stdout).toContain("npm run build:native");
    // The live sources, each with what it lacks: without the addon there is no ctnetlink dump.
    expect(r.stdout).toMatch(/^live sources \(analyze --live (uses (proc|conntrack)|: none works here)\):$/m);
    expect(r.stdout).toMatch(/^ {2}netlink +no {2}ctnetlink dump \(native\): the native addon with ctnetlink support is not loaded/m);
    expect(r.stdout).toMatch(/^ {2}proc +(ok|no) {2}\/proc\/net\/nf_conntrack/m);
    expect(r.stdout).toMatch(/^ {2}conntrack +(ok|no) {2}conntrack -L -o extended/m);
  });

  it("--json", () => {
    const r = runCli(["doctor", "--json"], { env: NO_ADDON });
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ active: "ts", requested: "auto", addonPath: null });
    expect(doc.tried).toEqual([{ path: "/nonexistent/ctscope.node", error: expect.any(String) }]);
    for (const k of ["version", "node", "threads", "loadError"]) expect(doc).toHaveProperty(k);
    expect(doc.live.map((s: { name: string }) => s.name)).toEqual(["netlink", "proc", "conntrack"]);
    expect(doc.live[0]).toEqual({ name: "netlink", ok: false, reason: expect.stringContaining("native addon") });
  });

  it("CTSCOPE_BACKEND=ts is reported as forced", () => {
    const r = runCli(["doctor"], { env: { CTSCOPE_BACKEND: "ts" } });
    expect(r.stdout).toContain("backend: ts (forced: ts)");
  });
});
