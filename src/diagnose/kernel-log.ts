/**
 * Table-full evidence in a kernel log: dmesg (`[  123.456789] msg`, `dmesg -T`, `--time-format iso`),
 * kern.log/syslog (`Jan  2 03:04:05 host kernel: msg`, RFC 3339 stamps) and `journalctl -k`
 * (short, short-iso, short-precise, short-monotonic).
 *
 * Messages recognised:
 *   ip_conntrack: table full, dropping packet.                          (2.6 ip_conntrack)
 *   nf_conntrack: table full, dropping packet                           (init netns)
 *   nf_conntrack: nf_conntrack: table full in netns N, dropping packet  (other netns)
 *   nf_conntrack: N callbacks suppressed                                (conntrack's rate limiter)
 *   printk: N messages suppressed. / net_ratelimit: N callbacks suppressed (shared rate limiters:
 *   counted only when next to a table-full message, since they also hide other messages)
 */
import type { KernelLogFacts, KernelLogStamp } from "./types.js";

const TABLE_FULL_RE = /\b(?:nf|ip)_conntrack: (?:nf_conntrack: )?table full(?: in netns (\d+))?, dropping packet/;
const CT_SUPPRESSED_RE = /\b([\w.]*conntrack[\w.]*): (\d+) callbacks suppressed/;
const GENERIC_SUPPRESSED_RE = /\b(?:printk: (\d+) messages suppressed|net_ratelimit: (\d+) callbacks suppressed)/;

const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

const UPTIME_RE = /\[\s*(\d{1,10}\.\d{1,9})\]/;
const DMESG_T_RE = /^\[(?:\w{3} )?(\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})\]/;
const ISO_RE = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?(Z|[+-]\d\d:?\d\d)?/;
const SYSLOG_RE = /^(\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?\s/;

/** A year-less syslog date counts from this leap year so that Feb 29 parses. */
const SYSLOG_BASE_YEAR = 2000;

/** The timestamp at the start of a kernel log line (the prefix before the message), or null. */
export function parseLogStamp(prefix: string): KernelLogStamp | null {
  const p = prefix.trimStart();
  let m = ISO_RE.exec(p);
  if (m) {
    let zone = m[8] ?? "Z";
    if (/^[+-]\d{4}$/.test(zone)) zone = `${zone.slice(0, 3)}:${zone.slice(3)}`;
    const frac = m[7] ? `.${m[7].slice(0, 3).padEnd(3, "0")}` : "";
    const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${frac}${zone}`);
    if (!Number.isNaN(ms)) return { text: m[0], seconds: ms / 1000, clock: "wallclock", yearKnown: true };
  }
  m = DMESG_T_RE.exec(p);
  if (m && m[1]! in MONTHS) {
    const ms = Date.UTC(Number(m[6]), MONTHS[m[1]!]!, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
    return { text: m[0].slice(1, -1), seconds: ms / 1000, clock: "wallclock", yearKnown: true };
  }
  m = SYSLOG_RE.exec(p);
  if (m && m[1]! in MONTHS) {
    const ms = Date.UTC(SYSLOG_BASE_YEAR, MONTHS[m[1]!]!, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
    const frac = m[6] ? Number(`0.${m[6]}`) : 0;
    return { text: m[0].trim(), seconds: ms / 1000 + frac, clock: "wallclock", yearKnown: false };
  }
  m = UPTIME_RE.exec(p);
  if (m) return { text: `[${m[1]}]`, seconds: Number(m[1]), clock: "uptime", yearKnown: true };
  return null;
}

type Kind = "full" | "ct-suppressed" | "generic-suppressed" | "other";

/** Scan a kernel log for table-full evidence. Pure: lastAgeSeconds is left null (the live collector fills it). */
export function parseKernelLog(text: string): KernelLogFacts {
  const lines = text.split(/\r?\n/);
  const kinds: Kind[] = [];
  const counts: number[] = [];
  const byNetns: Record<string, number> = {};
  const lastByNetns: Record<string, KernelLogStamp> = {};
  let tableFull = 0;
  let first: KernelLogStamp | null = null;
  let last: KernelLogStamp | null = null;
  // Year-less syslog dates: when time runs backwards by months, the log crossed a new year.
  let yearOffset = 0;
  let prevSyslog = Number.NEGATIVE_INFINITY;

  for (const line of lines) {
    if (line.trim() === "") continue;
    let kind: Kind = "other";
    let n = 0;
    let at = -1;
    let ns = "";
    const full = TABLE_FULL_RE.exec(line);
    const ct = full ? null : CT_SUPPRESSED_RE.exec(line);
    const generic = full || ct ? null : GENERIC_SUPPRESSED_RE.exec(line);
    if (full) {
      kind = "full";
      at = full.index;
      ns = full[1] ?? "init";
      byNetns[ns] = (byNetns[ns] ?? 0) + 1;
      tableFull++;
    } else if (ct) {
      kind = "ct-suppressed";
      n = Number(ct[2]);
    } else if (generic) {
      kind = "generic-suppressed";
      n = Number(generic[1] ?? generic[2]);
    }
    kinds.push(kind);
    counts.push(n);
    if (kind !== "full") continue;
    const stamp = parseLogStamp(line.slice(0, at));
    if (!stamp) continue;
    if (!stamp.yearKnown) {
      if (stamp.seconds + yearOffset < prevSyslog - 180 * 86400) yearOffset += 366 * 86400;
      stamp.seconds += yearOffset;
      prevSyslog = stamp.seconds;
    }
    if (!first) first = stamp;
    if (stamp.clock === first.clock) {
      last = stamp;
      lastByNetns[ns] = stamp;
    }
  }

  let suppressed = 0;
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i];
    // conntrack's limiter also guards other messages: count it only when the log has table-full lines.
    if (k === "ct-suppressed" && tableFull > 0) suppressed += counts[i]!;
    else if (k === "generic-suppressed" && (kinds[i - 1] === "full" || kinds[i + 1] === "full")) suppressed += counts[i]!;
  }
  const estimatedDrops = tableFull + suppressed;
  let perMinute: number | null = null;
  if (first && last && last.seconds > first.seconds) perMinute = estimatedDrops / ((last.seconds - first.seconds) / 60);
  return {
    lines: kinds.length,
    tableFull,
    suppressed,
    estimatedDrops,
    byNetns,
    lastByNetns,
    first,
    last,
    perMinute,
    lastAgeSeconds: null,
  };
}
