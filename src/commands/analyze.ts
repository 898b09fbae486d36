import { accessSync, constants } from "node:fs";
import { type Command, Option } from "@commander-js/extra-typings";
import {
  collectLiveHostFacts,
  DEFAULT_THRESHOLDS,
  type Diagnosis,
  diagnose,
  diagnosisToJson,
  type HostFacts,
  loadOfflineHostFacts,
  parseThresholdValue,
  THRESHOLD_OPTIONS,
  type Thresholds,
} from "../diagnose/index.js";
import { type AnalyzeOptions, analyze, defaultThreads } from "../engine/analyze.js";
import { STDIN_NAME } from "../engine/sources.js";
import type { Snapshot } from "../engine/types.js";
import { InputError, UsageError } from "../errors.js";
import { hostAddresses } from "../live/host-addresses.js";
import { parseInterval, SOURCE_CHOICES, type SourceChoice } from "../live/options.js";
import { PROC_TABLE, probeSource } from "../live/sources.js";
import { useColor } from "../report/color.js";
import { renderDiagnosisText } from "../report/diagnosis-text.js";
import { renderHuman } from "../report/human.js";
import { createProgress } from "../report/progress.js";
import { renderProm, writeFileAtomic } from "../report/prom.js";
import { renderCsv, renderJson, renderNdjson } from "../report/serialize.js";

/** This host's /proc table; CTSCOPE_PROC_TABLE points elsewhere (the tests use a missing file). */
export const LIVE_TABLE = process.env.CTSCOPE_PROC_TABLE || PROC_TABLE;

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function intOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw new UsageError(`${name} must be a whole number from ${min} to ${max} (got "${v}")`);
    return Number(v);
  };
}

/**
 * While stdin is read, the first Ctrl-C stops reading it and the lines read so far are analysed:
 * stdin can be endless (`conntrack -E | ctscope analyze -`), and Ctrl-C is how such a run ends. A
 * second one quits at once. Outside that reading (files, the analysis after), Ctrl-C quits as usual.
 */
function stdinStopsOnInterrupt(name: string): { signal: AbortSignal; release: () => void } | null {
  if (name !== STDIN_NAME) return null;
  const stop = new AbortController();
  const onInterrupt = () => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write("ctscope: interrupted: analysing what was read from stdin (Ctrl-C again to quit)\n");
    stop.abort();
  };
  process.on("SIGINT", onInterrupt);
  return { signal: stop.signal, release: () => process.off("SIGINT", onInterrupt) };
}

/** Shared by analyze and check: inputs, engine and filter options. */
export function addInputOptions<T extends Command<[string[]], Record<string, unknown>>>(cmd: T) {
  return cmd
    .option("--top <n>", "rows per top table", intOption("--top", 1, 100000), 10)
    .option("--threads <n>", "worker threads", intOption("--threads", 1, 256), defaultThreads())
    .addOption(
      new Option("--backend <name>", "tokenizer backend (env CTSCOPE_BACKEND)")
        .choices(["auto", "native", "ts"] as const)
        .default("auto" as const),
    )
    .option("--local <cidr>", "this host's address or CIDR (repeatable); default: inferred", collect)
    .option("--proto <name>", "keep only this l4 protocol (repeatable, comma list)", collect)
    .option("--state <name>", "keep only this state (repeatable, comma list)", collect)
    .option("--src <cidr>", "keep only entries whose original source is in CIDR (repeatable)", collect)
    .option("--dst <cidr>", "keep only entries whose original destination is in CIDR (repeatable)", collect)
    .option("--port <n>", "keep only entries with this original source or destination port (repeatable)", collect);
}

export interface InputOptionValues {
  top: number;
  threads: number;
  backend: "auto" | "native" | "ts";
  local?: string[];
  proto?: string[];
  state?: string[];
  src?: string[];
  dst?: string[];
  port?: string[];
}

/** What `analyze` reads: the inputs as given, else this host's table from /proc or over ctnetlink. */
export type ResolvedInputs = { inputs: string[]; live: boolean; netlink: boolean };

/**
 * Inputs as given. With none, this host's table: /proc/net/nf_conntrack when readable, else the
 * ctnetlink dump that `conntrack -L` uses (kernels have built without the /proc file by default
 * since 2022). procTable: where the /proc table is (tests point it elsewhere).
 */
export async function resolveInputs(inputs: string[], procTable = LIVE_TABLE): Promise<ResolvedInputs> {
  if (inputs.length > 0) return { inputs, live: false, netlink: false };
  let reason: string;
  try {
    accessSync(procTable, constants.R_OK);
    return { inputs: [procTable], live: true, netlink: false };
  } catch (err) {
    reason =
      (err as NodeJS.ErrnoException).code === "ENOENT"
        ? "does not exist (no conntrack module, or CONFIG_NF_CONNTRACK_PROCFS off)"
        : "is not readable (run as root)";
  }
  const netlink = await probeSource("netlink");
  if (netlink.ok) return { inputs: [], live: true, netlink: true };
  throw new InputError(
    `no input given, ${procTable} ${reason} and the ctnetlink dump cannot be read (${netlink.reason}); pass a dump: \`ctscope analyze FILE\`, or \`conntrack -L -o extended | ctscope analyze -\``,
    procTable,
  );
}

export function toAnalyzeOptions(inputs: string[], live: boolean, o: InputOptionValues): AnalyzeOptions {
  return {
    inputs,
    top: o.top,
    threads: o.threads,
    backend: o.backend,
    local: o.local,
    hostLocal: live ? hostAddresses() : undefined,
    proto: o.proto,
    state: o.state,
    src: o.src,
    dst: o.dst,
    port: o.port,
  };
}

export type OutputFormat = "table" | "json" | "ndjson" | "csv" | "prom";

export function renderSnapshot(s: Snapshot, d: Diagnosis, format: OutputFormat, opts: { top: number; color: boolean }): string {
  switch (format) {
    case "json":
      return renderJson(s, diagnosisToJson(d));
    case "ndjson":
      return renderNdjson(s);
    case "csv":
      return renderCsv(s);
    case "prom":
      return renderProm(s, d, { top: opts.top });
    default:
      return renderHuman(s, { color: opts.color, preamble: renderDiagnosisText(d, { color: opts.color }) });
  }
}

/** Registers the diagnosis options: host-fact files and one option per threshold. */
export function addDiagnosisOptions<T extends Command<[string[]], Record<string, unknown>>>(cmd: T): T {
  cmd
    .option("--sysctl <file>", "sysctl values (sysctl -a, sysctl net.netfilter, or KEY=VALUE lines)")
    .option("--stats <file>", "/proc/net/stat/nf_conntrack (any kernel era) or conntrack -S output")
    .option("--kernel-log <file>", "dmesg, kern.log or journalctl -k output, for table-full evidence");
  for (const opt of THRESHOLD_OPTIONS) {
    cmd.option(`--${opt.name} <${opt.arg}>`, `${opt.description} (default ${DEFAULT_THRESHOLDS[opt.key]})`);
  }
  return cmd;
}

/** --kebab-case option name → commander's camelCase key. */
export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Threshold overrides from parsed options (UsageError on a bad value). */
export function thresholdsFrom(o: Record<string, unknown>): Partial<Thresholds> {
  const t: Partial<Thresholds> = {};
  for (const opt of THRESHOLD_OPTIONS) {
    const v = o[camel(opt.name)];
    if (typeof v === "string") t[opt.key] = parseThresholdValue(opt, v);
  }
  return t;
}

/** Host facts: the live host's when reading the live table, the given files otherwise (null when none). */
export async function hostFactsFor(live: boolean, o: { sysctl?: string; stats?: string; kernelLog?: string }): Promise<HostFacts | null> {
  if (o.sysctl || o.stats || o.kernelLog) return loadOfflineHostFacts({ sysctl: o.sysctl, stats: o.stats, kernelLog: o.kernelLog });
  return live ? collectLiveHostFacts() : null;
}

/** Registers `ctscope analyze`. */
export function registerAnalyze(program: Command): void {
  const cmd = program
    .command("analyze")
    .description("analyze conntrack dumps (files, - for stdin, .gz) or, with no input, the live table")
    .argument("[inputs...]", "dump files; - reads stdin; .gz is decompressed");
  addInputOptions(cmd)
    .option("--json", "same as --format json")
    .addOption(
      new Option("--format <fmt>", "output format").choices(["table", "json", "ndjson", "csv", "prom"] as const).default("table" as const),
    )
    .option(
      "-o, --output <file>",
      "write the report to FILE atomically (temporary file, then rename), e.g. for the node_exporter textfile collector",
    );
  cmd
    .option("--live", "watch this host's table: full screen on a terminal, one NDJSON document per interval with --json")
    .option("--once", "with --live: one snapshot, then exit (with --json: one JSON document)")
    .option("--interval <seconds>", "with --live: seconds between refreshes (default 1)", parseInterval)
    .addOption(new Option("--source <name>", "with --live: where the table is read from").choices(SOURCE_CHOICES).default("auto" as const))
    .addOption(new Option("--replay <file>", "show recorded --live --json documents").hideHelp());
  addDiagnosisOptions(cmd);
  cmd.action(async (inputs, rawOpts) => {
    const opts = rawOpts as unknown as InputOptionValues & {
      json?: boolean;
      format: OutputFormat;
      output?: string;
      sysctl?: string;
      stats?: string;
      kernelLog?: string;
    };
    const thresholds = thresholdsFrom(rawOpts as Record<string, unknown>);
    const lv = rawOpts as { live?: boolean; once?: boolean; interval?: number; source?: SourceChoice; replay?: string };
    if (lv.live || lv.replay) {
      if (inputs.length > 0) throw new UsageError("--live reads this host's table: give no input files");
      // Loaded only for --live: an offline run starts without the live view's modules.
      const { runLive } = await import("../live/index.js");
      process.exitCode = await runLive({
        once: lv.once,
        interval: lv.interval,
        source: lv.source,
        replay: lv.replay,
        json: opts.json === true || opts.format === "json",
        top: opts.top,
        threads: opts.threads,
        backend: opts.backend,
        local: opts.local,
        proto: opts.proto,
        state: opts.state,
        src: opts.src,
        dst: opts.dst,
        port: opts.port,
        thresholds,
      });
      return;
    }
    const resolved = await resolveInputs(inputs);
    const format: OutputFormat = opts.json ? "json" : opts.format;
    const factsPromise = hostFactsFor(resolved.live, opts);
    // Awaited after the scan; until then a rejection must not count as unhandled.
    factsPromise.catch(() => {});
    let snapshot: Snapshot;
    if (resolved.netlink) {
      const { scanSnapshot } = await import("../live/scan.js");
      const o = toAnalyzeOptions([], true, opts);
      snapshot = await scanSnapshot({ ...o, source: "netlink", top: o.top ?? 10, threads: o.threads ?? defaultThreads() });
    } else {
      const progress = await createProgress(process.stderr);
      try {
        snapshot = await analyze({
          ...toAnalyzeOptions(resolved.inputs, resolved.live, opts),
          onProgress: progress.update,
          stopReading: stdinStopsOnInterrupt,
        });
      } finally {
        progress.done();
      }
    }
    // Also on stderr: a script reading --json output may not look for them.
    for (const w of snapshot.warnings) process.stderr.write(`ctscope: warning: ${w}\n`);
    const diagnosis = diagnose(snapshot, await factsPromise, thresholds);
    const color = opts.output === undefined && useColor(process.stdout);
    const text = renderSnapshot(snapshot, diagnosis, format, { top: opts.top, color });
    if (opts.output) await writeFileAtomic(opts.output, text);
    else process.stdout.write(text);
  });
}
