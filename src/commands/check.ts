/**
 * `ctscope check`: a monitoring plugin (Nagios/Icinga convention). One status line
 * `CONNTRACK OK - fill 12% (1234/262144), no anomalies|perfdata`, exit 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN. Any error is UNKNOWN with a one-line reason, never a stack trace.
 */
import { accessSync, constants } from "node:fs";
import type { Command } from "@commander-js/extra-typings";
import { collectLiveHostFacts, loadOfflineHostFacts } from "../diagnose/hostfacts.js";
import { diagnose, worstSeverity } from "../diagnose/index.js";
import { DEFAULT_THRESHOLDS, parseThresholdValue, THRESHOLD_OPTIONS, type Thresholds } from "../diagnose/thresholds.js";
import type { Diagnosis, HostFacts } from "../diagnose/types.js";
import type { Snapshot } from "../engine/types.js";
import { UsageError } from "../errors.js";
import { analyze } from "../index.js";
import { hostAddresses } from "../live/host-addresses.js";
import { probeSource } from "../live/sources.js";
import { camel, collect, LIVE_TABLE } from "./analyze.js";

export type CheckCode = 0 | 1 | 2 | 3;
export const STATUS_NAMES = ["OK", "WARNING", "CRITICAL", "UNKNOWN"] as const;

/** Raw option values as typed on the command line; validated by runCheck so that bad values are UNKNOWN (3). */
export interface CheckOptions {
  inputs: string[];
  warning?: string;
  critical?: string;
  /** Threshold option values by THRESHOLD_OPTIONS name (kebab-case). */
  thresholds?: Record<string, string | undefined>;
  sysctl?: string;
  stats?: string;
  kernelLog?: string;
  /** Read the live table when no inputs are given (default true). */
  table?: boolean;
  local?: string[];
  threads?: string;
  backend?: string;
}

export interface CheckDeps {
  collectLive: () => Promise<HostFacts>;
  analyze: (opts: {
    inputs: string[];
    threads?: number;
    backend?: "auto" | "native" | "ts";
    top?: number;
    local?: string[];
    hostLocal?: string[];
  }) => Promise<Snapshot>;
  liveTable: string;
  /** This host's table over ctnetlink, or null when that cannot be read (used when liveTable is not readable). */
  scanNetlink: (opts: {
    threads: number;
    backend: "auto" | "native" | "ts";
    local?: string[];
    hostLocal?: string[];
  }) => Promise<Snapshot | null>;
}

async function scanNetlink(opts: Parameters<CheckDeps["scanNetlink"]>[0]): Promise<Snapshot | null> {
  if (!(await probeSource("netlink")).ok) return null;
  const { scanSnapshot } = await import("../live/scan.js");
  return scanSnapshot({ ...opts, source: "netlink", top: 10 });
}

const DEFAULT_DEPS: CheckDeps = {
  collectLive: collectLiveHostFacts,
  analyze,
  liveTable: LIVE_TABLE,
  scanNetlink,
};

export interface CheckResult {
  code: CheckCode;
  line: string;
}

/** The options that are fill thresholds: check spells them -w/--warning and -c/--critical. */
const FILL_KEYS = new Set<keyof Thresholds>(["fillWarningPct", "fillCriticalPct"]);

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function thresholdsFrom(o: CheckOptions): Partial<Thresholds> {
  const t: Partial<Thresholds> = {};
  const fill = (name: string, text: string | undefined, key: keyof Thresholds) => {
    const opt = THRESHOLD_OPTIONS.find((x) => x.key === key)!;
    if (text !== undefined) t[key] = parseThresholdValue({ ...opt, name }, text);
  };
  fill("warning", o.warning, "fillWarningPct");
  fill("critical", o.critical, "fillCriticalPct");
  for (const opt of THRESHOLD_OPTIONS) {
    if (FILL_KEYS.has(opt.key)) continue;
    const v = o.thresholds?.[opt.name];
    if (v !== undefined) t[opt.key] = parseThresholdValue(opt, v);
  }
  return t;
}

function intArg(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${text}'`);
  return Number(text);
}

/** Nagios perfdata label=value[UOM];warn;crit;min;max, one per known number. */
function perfdata(d: Diagnosis, t: Thresholds): string {
  const h = d.health;
  const out: string[] = [];
  if (h.count !== null) {
    if (h.max !== null) {
      out.push(
        `entries=${h.count};${Math.floor((h.max * t.fillWarningPct) / 100)};${Math.floor((h.max * t.fillCriticalPct) / 100)};0;${h.max}`,
      );
    } else out.push(`entries=${h.count};;;0;`);
  }
  if (h.fill !== null) out.push(`fill=${(Math.floor(h.fill * 10000) / 100).toFixed(2)}%;${t.fillWarningPct};${t.fillCriticalPct};0;100`);
  if (h.effectiveFill !== null) out.push(`effective_fill=${(h.effectiveFill * 100).toFixed(2)}%;;;0;100`);
  if (h.unreplied !== null) out.push(`unreplied=${h.unreplied};;;0;`);
  if (h.avgChain !== null) out.push(`avg_chain=${h.avgChain.toFixed(3)};${t.chainWarning};;0;`);
  for (const k of ["drop", "early_drop", "insert_failed", "invalid", "search_restart", "chaintoolong"] as const) {
    const v = h.counters[k];
    if (v !== null) out.push(`${k}=${v}c`);
  }
  if (h.kernelLog) out.push(`log_table_full=${h.kernelLog.tableFull};;;0;`, `log_estimated_drops=${h.kernelLog.estimatedDrops};;;0;`);
  const count = (s: string) => d.anomalies.filter((a) => a.severity === s).length;
  out.push(`anomalies_critical=${count("critical")};;1;0;`, `anomalies_warning=${count("warning")};1;;0;`);
  return out.join(" ");
}

/** Status line text must not contain the perfdata separator or line breaks. */
function clean(s: string): string {
  return s.replace(/[|\r\n]+/g, " ");
}

/**
 * Turn a diagnosis into the status line and exit code. warnings: the input was read only in part
 * (compressed data that breaks off), so it cannot vouch for OK or WARNING: UNKNOWN, unless what
 * was read is already CRITICAL; the first warning leads the summary.
 */
export function formatCheck(d: Diagnosis, t: Thresholds, warnings: readonly string[] = []): CheckResult {
  const h = d.health;
  const incomplete = warnings.length > 0 ? `input incomplete: ${warnings[0]}; ` : "";
  if (h.count === null) {
    const why = h.notes[0] ?? "no entry count (conntrack not loaded?)";
    return { code: 3, line: `CONNTRACK UNKNOWN - ${clean(incomplete + why)}` };
  }
  const worst = worstSeverity(d);
  const severityCode: CheckCode = worst === "critical" ? 2 : worst === "warning" ? 1 : 0;
  const code: CheckCode = incomplete && severityCode !== 2 ? 3 : severityCode;
  let summary = incomplete;
  if (h.fill !== null && h.max !== null) {
    const p = h.fill * 100;
    // Rounded down to 0.1 so the text never shows a threshold the table has not reached.
    summary += `fill ${Number((Math.floor(p * 10) / 10).toFixed(1))}% (${h.count}/${h.max})`;
  } else summary += `${h.count} ${h.count === 1 ? "entry" : "entries"} (nf_conntrack_max unknown)`;
  const shown = d.anomalies.filter((a) => a.severity !== "info");
  if (shown.length === 0) summary += d.anomalies.length ? `, ${d.anomalies.length} info` : ", no anomalies";
  else {
    const titles = shown.slice(0, 3).map((a) => `${a.severity}: ${a.title}`);
    summary += `; ${titles.join("; ")}${shown.length > 3 ? ` (+${shown.length - 3} more)` : ""}`;
  }
  return { code, line: `CONNTRACK ${STATUS_NAMES[code]} - ${clean(summary)}|${perfdata(d, t)}` };
}

/** Run the check; never throws: errors become UNKNOWN. */
export async function runCheck(o: CheckOptions, deps: CheckDeps = DEFAULT_DEPS): Promise<CheckResult> {
  try {
    const overrides = thresholdsFrom(o);
    const t: Thresholds = { ...DEFAULT_THRESHOLDS, ...overrides };
    const threads = intArg("threads", o.threads, 1, 256) ?? 1;
    const backend = o.backend ?? "auto";
    if (backend !== "auto" && backend !== "native" && backend !== "ts")
      throw new UsageError(`--backend must be auto, native or ts, got '${backend}'`);
    const offline = o.sysctl !== undefined || o.stats !== undefined || o.kernelLog !== undefined;
    let facts: HostFacts | null = null;
    let snapshot: Snapshot | null = null;
    if (offline) facts = await loadOfflineHostFacts({ sysctl: o.sysctl, stats: o.stats, kernelLog: o.kernelLog });
    if (o.inputs.length > 0) {
      snapshot = await deps.analyze({ inputs: o.inputs, threads, backend, top: 10, local: o.local });
    } else if (!offline) {
      facts = await deps.collectLive();
      if (o.table !== false && readable(deps.liveTable)) {
        snapshot = await deps.analyze({
          inputs: [deps.liveTable],
          threads,
          backend,
          top: 10,
          local: o.local,
          hostLocal: o.local ? undefined : hostAddresses(),
        });
      } else if (o.table !== false) {
        // No /proc table (a kernel built without it): the same table over ctnetlink, when readable.
        snapshot = await deps.scanNetlink({ threads, backend, local: o.local, hostLocal: o.local ? undefined : hostAddresses() });
      }
    }
    const d = diagnose(snapshot, facts, overrides);
    return formatCheck(d, t, snapshot?.warnings ?? []);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return { code: 3, line: `CONNTRACK UNKNOWN - ${clean(msg.split("\n")[0] ?? msg)}` };
  }
}

/** Registers `ctscope check`. */
export function registerCheck(program: Command): void {
  const cmd = program
    .command("check")
    .description("monitoring plugin: one status line with perfdata; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN")
    .argument("[inputs...]", "dump files to analyze; none: the live host (its counters and, when readable, its table)")
    .option("-w, --warning <pct>", `table fill percent for WARNING (default ${DEFAULT_THRESHOLDS.fillWarningPct})`)
    .option("-c, --critical <pct>", `table fill percent for CRITICAL (default ${DEFAULT_THRESHOLDS.fillCriticalPct})`)
    .option("--sysctl <file>", "sysctl values instead of the live host's (sysctl -a, KEY=VALUE lines)")
    .option("--stats <file>", "/proc/net/stat/nf_conntrack or conntrack -S output instead of the live host's")
    .option("--kernel-log <file>", "dmesg, kern.log or journalctl -k output instead of the live host's")
    .option("--no-table", "with no inputs, read only the host counters, not the live table")
    .option("--local <cidr>", "this host's address or CIDR (repeatable); default: inferred", collect)
    .option("--threads <n>", "worker threads (default 1)")
    .option("--backend <name>", "tokenizer backend: auto, native or ts (default auto)");
  for (const opt of THRESHOLD_OPTIONS) {
    if (FILL_KEYS.has(opt.key)) continue;
    cmd.option(`--${opt.name} <${opt.arg}>`, `${opt.description} (default ${DEFAULT_THRESHOLDS[opt.key]})`);
  }
  cmd.action(async (inputs, raw) => {
    const o = raw as Record<string, unknown>;
    const thresholds: Record<string, string | undefined> = {};
    for (const opt of THRESHOLD_OPTIONS) thresholds[opt.name] = o[camel(opt.name)] as string | undefined;
    const result = await runCheck({
      inputs,
      warning: o.warning as string | undefined,
      critical: o.critical as string | undefined,
      thresholds,
      sysctl: o.sysctl as string | undefined,
      stats: o.stats as string | undefined,
      kernelLog: o.kernelLog as string | undefined,
      table: o.table as boolean | undefined,
      local: o.local as string[] | undefined,
      threads: o.threads as string | undefined,
      backend: o.backend as string | undefined,
    });
    process.stdout.write(`${result.line}\n`);
    process.exitCode = result.code;
  });
}
