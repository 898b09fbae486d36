/**
 * Prometheus text exposition (format 0.0.4) for the node_exporter textfile collector: `ctscope_`
 * prefix, base units, `_total` only for kernel counters that count since boot, HELP and TYPE for
 * every family. Label cardinality is bounded: top-K keys per dimension, a fixed set of states,
 * protocols, histogram buckets and severities, and at most K anomalies.
 */
import { randomBytes } from "node:crypto";
import { open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Diagnosis, Health, Severity } from "../diagnose/types.js";
import { DIMENSIONS, type Snapshot } from "../engine/types.js";
import { CtscopeError, describeErrno } from "../errors.js";

export interface PromOptions {
  /** Rows per dimension in ctscope_table_top_entries, and most anomalies listed. */
  top: number;
}

/** Escape a label value: backslash, double quote and newline (the exposition format's rules). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function num(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

class Exposition {
  private out: string[] = [];
  family(name: string, type: "gauge" | "counter", help: string, samples: Array<[Record<string, string>, number]>): void {
    if (samples.length === 0) return;
    this.out.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    this.out.push(`# TYPE ${name} ${type}`);
    for (const [labels, v] of samples) {
      const l = Object.entries(labels);
      const ls = l.length ? `{${l.map(([k, x]) => `${k}="${escapeLabel(x)}"`).join(",")}}` : "";
      this.out.push(`${name}${ls} ${num(v)}`);
    }
  }
  one(name: string, type: "gauge" | "counter", help: string, v: number | null | undefined): void {
    if (v === null || v === undefined || !Number.isFinite(v)) return;
    this.family(name, type, help, [[{}, v]]);
  }
  text(): string {
    return `${this.out.join("\n")}\n`;
  }
}

const SEVERITIES: Severity[] = ["info", "warning", "critical"];

function healthMetrics(e: Exposition, h: Health): void {
  e.one("ctscope_conntrack_entries", "gauge", "Entries in the conntrack table (nf_conntrack_count, else the analyzed table).", h.count);
  e.one("ctscope_conntrack_max_entries", "gauge", "nf_conntrack_max.", h.max);
  e.one("ctscope_conntrack_fill_ratio", "gauge", "Entries divided by nf_conntrack_max.", h.fill);
  e.one(
    "ctscope_conntrack_effective_fill_ratio",
    "gauge",
    "Fill without UNREPLIED entries, which the kernel evicts first.",
    h.effectiveFill,
  );
  e.one("ctscope_conntrack_buckets", "gauge", "Hash table buckets (nf_conntrack_buckets).", h.buckets);
  e.one("ctscope_conntrack_chain_length_average", "gauge", "Average entries per hash bucket.", h.avgChain);
  e.one("ctscope_conntrack_recommended_max_entries", "gauge", "Recommended nf_conntrack_max.", h.recommendedMax);
  e.one(
    "ctscope_conntrack_recommended_buckets",
    "gauge",
    "Recommended hashsize (2 to 4 entries per bucket at the recommended max).",
    h.recommendedHashsize,
  );
  e.one(
    "ctscope_conntrack_ram_rule_max_entries",
    "gauge",
    "nf_conntrack_max by the RAM rule: RAM bytes / 16384 / (word bits / 32).",
    h.ramRule?.max,
  );
  const mem: Array<[Record<string, string>, number]> = [];
  if (h.memory.nowBytes !== null) mem.push([{ at: "now" }, h.memory.nowBytes]);
  if (h.memory.atMaxBytes !== null) mem.push([{ at: "max" }, h.memory.atMaxBytes]);
  if (h.memory.atRecommendedMaxBytes !== null) mem.push([{ at: "recommended_max" }, h.memory.atRecommendedMaxBytes]);
  e.family("ctscope_conntrack_memory_bytes", "gauge", "Estimated kernel memory of the table (entries and buckets).", mem);
  e.one(
    "ctscope_conntrack_entry_size_bytes",
    "gauge",
    "Bytes per entry used for the memory estimate (slab object size when known).",
    h.memory.objectBytes,
  );
  e.one(
    "ctscope_conntrack_tcp_established_timeout_seconds",
    "gauge",
    "TCP established timeout (sysctl, or a lower bound inferred from the table).",
    h.establishedTimeout.seconds,
  );
  e.one(
    "ctscope_conntrack_tcp_close_wait_timeout_seconds",
    "gauge",
    "TCP CLOSE_WAIT timeout (sysctl, or a lower bound inferred from the table).",
    h.closeWaitTimeout.seconds,
  );
  for (const [k, v] of Object.entries(h.counters)) {
    e.one(`ctscope_conntrack_stat_${k}_total`, "counter", `Kernel conntrack statistic ${k}, summed over CPUs, since boot.`, v);
  }
  const log = h.kernelLog;
  if (log) {
    e.one(
      "ctscope_kernel_log_table_full_messages",
      "gauge",
      "'table full, dropping packet' messages in the kernel log read.",
      log.tableFull,
    );
    e.one("ctscope_kernel_log_suppressed_messages", "gauge", "Rate-limited messages reported suppressed next to them.", log.suppressed);
    e.one(
      "ctscope_kernel_log_dropped_packets",
      "gauge",
      "Lower bound of packets dropped for a full table, from the kernel log.",
      log.estimatedDrops,
    );
    e.one("ctscope_kernel_log_drops_per_minute", "gauge", "Estimated drops per minute between the first and last message.", log.perMinute);
    e.one("ctscope_kernel_log_last_message_age_seconds", "gauge", "Seconds since the last 'table full' message.", log.lastAgeSeconds);
  }
}

function snapshotMetrics(e: Exposition, s: Snapshot, top: number): void {
  e.one("ctscope_table_entries", "gauge", "Entries in the analyzed table.", s.entries);
  e.one("ctscope_table_unreplied_entries", "gauge", "Analyzed entries that are UNREPLIED.", s.unreplied);
  e.one("ctscope_table_assured_entries", "gauge", "Analyzed entries that are ASSURED.", s.assured);
  e.one("ctscope_table_nat_entries", "gauge", "Analyzed entries with NAT applied.", s.natted);
  e.one("ctscope_table_offloaded_entries", "gauge", "Analyzed entries offloaded to a flowtable.", s.offloaded);
  e.family(
    "ctscope_table_entries_by_family",
    "gauge",
    "Analyzed entries per address family.",
    s.by_family.map((f) => [{ family: f.family }, f.count]),
  );
  e.family(
    "ctscope_table_entries_by_protocol",
    "gauge",
    "Analyzed entries per layer-4 protocol.",
    s.by_proto.map((p) => [{ protocol: p.proto }, p.count]),
  );
  e.family(
    "ctscope_table_entries_by_state",
    "gauge",
    "Analyzed entries per protocol and state.",
    s.by_state.map((r) => [{ protocol: r.proto, state: r.state ?? "" }, r.count]),
  );
  e.family(
    "ctscope_table_state_max_timeout_seconds",
    "gauge",
    "Largest remaining timeout among the analyzed entries of each protocol and state (a 5-day ESTABLISHED timeout shows here).",
    s.by_state.filter((r) => r.max_timeout !== null).map((r) => [{ protocol: r.proto, state: r.state ?? "" }, r.max_timeout!]),
  );
  e.family(
    "ctscope_table_entries_by_remaining_timeout",
    "gauge",
    "Analyzed entries per remaining-timeout range in seconds (upper bound exclusive).",
    s.timeouts.map((b) => [{ lower: String(b.from), upper: b.to === null ? "+Inf" : String(b.to) }, b.count]),
  );
  e.one("ctscope_table_entries_without_timeout", "gauge", "Analyzed entries whose line carried no remaining timeout.", s.no_timeout);
  e.family(
    "ctscope_table_distinct_keys",
    "gauge",
    "Distinct keys per report dimension.",
    DIMENSIONS.map((d) => [{ dimension: d }, s.distinct[d] ?? 0]),
  );
  const rows: Array<[Record<string, string>, number]> = [];
  for (const d of DIMENSIONS) for (const r of (s.top[d] ?? []).slice(0, top)) rows.push([{ dimension: d, key: r.key }, r.count]);
  e.family("ctscope_table_top_entries", "gauge", "Entries of the top keys per dimension (top-K only).", rows);
  e.one("ctscope_input_lines", "gauge", "Lines read from the inputs.", s.lines);
  e.one("ctscope_input_malformed_lines", "gauge", "Lines that could not be parsed.", s.malformed);
  e.one("ctscope_input_bytes", "gauge", "Bytes read from the inputs.", s.bytes);
  e.one("ctscope_scan_duration_seconds", "gauge", "Time the analysis took.", s.elapsed_ms / 1000);
}

/** The whole exposition; snapshot may be null when only host facts were read. */
export function renderProm(snapshot: Snapshot | null, diagnosis: Diagnosis, opts: PromOptions): string {
  const top = Math.max(0, Math.floor(opts.top));
  const e = new Exposition();
  healthMetrics(e, diagnosis.health);
  if (snapshot) snapshotMetrics(e, snapshot, top);
  const bySev = SEVERITIES.map((sv): [Record<string, string>, number] => [
    { severity: sv },
    diagnosis.anomalies.filter((a) => a.severity === sv).length,
  ]);
  e.family("ctscope_anomalies", "gauge", "Anomalies found, per severity.", bySev);
  e.family(
    "ctscope_anomaly",
    "gauge",
    "1 for each anomaly found (worst first, top-K only).",
    diagnosis.anomalies.slice(0, top).map((a) => [{ id: a.id, severity: a.severity }, 1]),
  );
  const worst = diagnosis.anomalies.reduce((w, a) => Math.max(w, SEVERITIES.indexOf(a.severity)), -1);
  e.one("ctscope_status", "gauge", "Overall status: 0 ok or info only, 1 warning, 2 critical.", Math.max(0, worst));
  e.one("ctscope_last_run_timestamp_seconds", "gauge", "When this file was written (Unix time).", Math.floor(Date.now() / 1000));
  return e.text();
}

/**
 * Write text to path atomically (CtscopeError `path: reason` on failure): a temporary file in the same directory (not ending in .prom, so
 * the textfile collector never reads it half-written), flushed, then renamed over the target.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  try {
    await writeAtomic(path, text);
  } catch (err) {
    throw new CtscopeError(`${path}: ${describeErrno(err)}`);
  }
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", 0o644);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
