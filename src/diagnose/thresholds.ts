/**
 * Thresholds of the diagnosis rules, with their defaults and the CLI options that set them.
 * Units are the ones the CLI shows: percents as 0–100, durations in seconds, counts as entries.
 */
import { UsageError } from "../errors.js";

export interface Thresholds {
  /** Table fill (count/max) that is a warning. */
  fillWarningPct: number;
  /** Table fill that is critical. */
  fillCriticalPct: number;
  /** Average hash chain length (count/buckets) above which lookups get slow. */
  chainWarning: number;
  /** Fill the recommended nf_conntrack_max leaves the current count at. */
  targetFillPct: number;
  /** Smallest share of the table one remote (or remote+service) must hold to be dominant. */
  dominantSharePct: number;
  /** How many times the median remote a dominant remote must hold. */
  dominantRatio: number;
  /** Fewest entries for any traffic rule to fire (dominance, floods, stateless services). */
  minEntries: number;
  /** Half-open TCP entries (SYN_SENT/SYN_RECV) from one source, prefix or to one service that make a SYN flood. */
  synFloodEntries: number;
  /** Distinct destination ports one source (or prefix) touches that make a scan. */
  scanPorts: number;
  /** UNREPLIED UDP entries from one source/prefix or to one service that make a UDP flood. */
  udpFloodEntries: number;
  /** Entries a stateless service (DNS, NTP) needs to be worth a NOTRACK rule. */
  statelessEntries: number;
  /** Entries a web port (80/443) needs, on a host without NAT, to be a NOTRACK candidate. */
  webNotrackEntries: number;
  /** Established timeout above which idle entries are blamed on it; also the value recommended. */
  establishedTimeoutTarget: number;
  /** Idle time (established timeout minus remaining) after which an ESTABLISHED entry counts as orphaned. */
  orphanIdleSeconds: number;
  /** Share of the table orphaned or idle entries must reach to be a warning. */
  idleSharePct: number;
  /** drop + early_drop counter total (since boot) that is reported. 0 disables the counter check. */
  dropsMin: number;
  /** A table-full kernel message younger than this (seconds) is critical. */
  recentLogSeconds: number;
}

export const DEFAULT_THRESHOLDS: Readonly<Thresholds> = Object.freeze({
  fillWarningPct: 75,
  fillCriticalPct: 90,
  chainWarning: 8,
  targetFillPct: 50,
  dominantSharePct: 2,
  dominantRatio: 50,
  minEntries: 1000,
  synFloodEntries: 256,
  scanPorts: 100,
  udpFloodEntries: 1000,
  statelessEntries: 1000,
  webNotrackEntries: 20000,
  establishedTimeoutTarget: 86400,
  orphanIdleSeconds: 21600,
  idleSharePct: 10,
  dropsMin: 1,
  recentLogSeconds: 3600,
});

export interface ThresholdOption {
  key: keyof Thresholds;
  /** kebab-case option name without dashes: `--${name} <value>`. */
  name: string;
  /** Placeholder for help output. */
  arg: string;
  description: string;
  min: number;
  max: number;
  integer: boolean;
}

/** One CLI option per threshold, for generic registration: `--${name} <${arg}>`, parsed with parseThresholdValue. */
export const THRESHOLD_OPTIONS: readonly ThresholdOption[] = [
  {
    key: "fillWarningPct",
    name: "fill-warning",
    arg: "pct",
    description: "table fill percent that is a warning",
    min: 0,
    max: 100,
    integer: false,
  },
  {
    key: "fillCriticalPct",
    name: "fill-critical",
    arg: "pct",
    description: "table fill percent that is critical",
    min: 0,
    max: 100,
    integer: false,
  },
  {
    key: "chainWarning",
    name: "chain-warning",
    arg: "n",
    description: "average hash chain length (entries per bucket) that is a warning",
    min: 1,
    max: 1e6,
    integer: false,
  },
  {
    key: "targetFillPct",
    name: "target-fill",
    arg: "pct",
    description: "fill the recommended nf_conntrack_max leaves the current count at",
    min: 1,
    max: 100,
    integer: false,
  },
  {
    key: "dominantSharePct",
    name: "dominant-share",
    arg: "pct",
    description: "share of the table one remote must hold to be dominant",
    min: 0,
    max: 100,
    integer: false,
  },
  {
    key: "dominantRatio",
    name: "dominant-ratio",
    arg: "n",
    description: "times the median remote a dominant remote must hold",
    min: 1,
    max: 1e9,
    integer: false,
  },
  {
    key: "minEntries",
    name: "min-entries",
    arg: "n",
    description: "fewest entries for a traffic rule (dominant remote, idle, stateless) to fire",
    min: 1,
    max: 1e12,
    integer: true,
  },
  {
    key: "synFloodEntries",
    name: "syn-flood-entries",
    arg: "n",
    description: "half-open TCP entries from one source/prefix or to one service that make a SYN flood",
    min: 1,
    max: 1e12,
    integer: true,
  },
  {
    key: "scanPorts",
    name: "scan-ports",
    arg: "n",
    description: "distinct destination ports one source touches that make a scan",
    min: 2,
    max: 65535,
    integer: true,
  },
  {
    key: "udpFloodEntries",
    name: "udp-flood-entries",
    arg: "n",
    description: "UNREPLIED UDP entries from one source/prefix or to one service that make a flood",
    min: 1,
    max: 1e12,
    integer: true,
  },
  {
    key: "statelessEntries",
    name: "stateless-entries",
    arg: "n",
    description: "entries of a DNS/NTP service that make it a NOTRACK candidate",
    min: 1,
    max: 1e12,
    integer: true,
  },
  {
    key: "webNotrackEntries",
    name: "web-notrack-entries",
    arg: "n",
    description: "entries of a web port (80/443) on a host without NAT that make it a NOTRACK candidate",
    min: 1,
    max: 1e12,
    integer: true,
  },
  {
    key: "establishedTimeoutTarget",
    name: "established-timeout-target",
    arg: "seconds",
    description: "established timeout to recommend; longer ones holding idle entries are reported",
    min: 60,
    max: 4294967,
    integer: true,
  },
  {
    key: "orphanIdleSeconds",
    name: "orphan-idle",
    arg: "seconds",
    description: "idle time after which an ESTABLISHED entry counts as orphaned",
    min: 60,
    max: 4294967,
    integer: true,
  },
  {
    key: "idleSharePct",
    name: "idle-share",
    arg: "pct",
    description: "share of the table idle or orphaned entries must hold to be a warning",
    min: 0,
    max: 100,
    integer: false,
  },
  {
    key: "dropsMin",
    name: "drops-min",
    arg: "n",
    description: "drop + early_drop total (since boot) that is reported; 0 ignores the counters",
    min: 0,
    max: 1e15,
    integer: true,
  },
  {
    key: "recentLogSeconds",
    name: "recent-log",
    arg: "seconds",
    description: "a 'table full' kernel message younger than this is critical",
    min: 0,
    max: 1e9,
    integer: true,
  },
];

/** Parse an option value; throws UsageError naming the option. */
export function parseThresholdValue(opt: ThresholdOption, text: string): number {
  const t = text.trim();
  const n = /^\d+(?:\.\d+)?$/.test(t) ? Number(t) : Number.NaN;
  if (!Number.isFinite(n) || n < opt.min || n > opt.max || (opt.integer && !Number.isInteger(n))) {
    throw new UsageError(
      `--${opt.name} must be ${opt.integer ? "a whole number" : "a number"} from ${opt.min} to ${opt.max}, got '${text}'`,
    );
  }
  return n;
}

/** Defaults overridden by the given values; throws UsageError when the fill thresholds are inverted. */
export function resolveThresholds(overrides: Partial<Thresholds> = {}): Thresholds {
  const t: Thresholds = { ...DEFAULT_THRESHOLDS };
  for (const [k, v] of Object.entries(overrides) as Array<[keyof Thresholds, number | undefined]>) {
    if (v !== undefined) t[k] = v;
  }
  if (t.fillWarningPct > t.fillCriticalPct) {
    throw new UsageError(`the fill warning (${t.fillWarningPct}%) must not be above the critical (${t.fillCriticalPct}%)`);
  }
  return t;
}
