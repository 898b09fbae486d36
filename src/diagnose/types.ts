/**
 * Types of the diagnosis layer: what the host tells us (HostFacts), what the table looks like
 * (Health), what is wrong (Anomaly) and what to change (Recommendation).
 * Missing facts are null, never guessed.
 */

/** Per-CPU conntrack statistics, summed over CPUs. */
export interface ConntrackStats {
  /** "proc": /proc/net/stat/nf_conntrack (hex rows under a header); "conntrack-S": `cpu=N key=value ...`. */
  format: "proc" | "conntrack-S";
  /** Column names as printed (proc header order) or keys in first-seen order (conntrack -S). */
  columns: string[];
  /** CPU rows read. */
  cpus: number;
  /** The global entry count (proc format only): repeated on every row, never summed. */
  entries: number | null;
  /**
   * Counters summed over CPUs under canonical names: the proc header's `clashres` is
   * `clash_resolve`, `chainlength` is `chaintoolong`, `icmp_error` is `error` (the names
   * `conntrack -S` prints). A counter the input does not carry is absent.
   */
  totals: Record<string, number>;
}

/** A kernel log timestamp: seconds since boot (dmesg) or since the epoch (syslog, journald, dmesg -T). */
export interface KernelLogStamp {
  /** The timestamp as printed (uptime stamps without their padding: "[5012.118030]"). */
  text: string;
  seconds: number;
  clock: "uptime" | "wallclock";
  /** false for syslog dates printed without a year: seconds then count from 2000 and only differences mean something. */
  yearKnown: boolean;
}

/** Table-full evidence found in a kernel log. */
export interface KernelLogFacts {
  /** Non-blank lines read. */
  lines: number;
  /** "table full, dropping packet" messages. */
  tableFull: number;
  /** Messages the rate limiter reported suppressed next to them (conntrack's own, or the generic printk/net_ratelimit lines adjacent to a table-full message). */
  suppressed: number;
  /** tableFull + suppressed: a lower bound on dropped packets (every message is one drop). */
  estimatedDrops: number;
  /** Table-full messages per network namespace inode ("init" when the message names none). */
  byNetns: Record<string, number>;
  /** The last stamped table-full message per namespace (same clock as `first`). */
  lastByNetns: Record<string, KernelLogStamp>;
  first: KernelLogStamp | null;
  last: KernelLogStamp | null;
  /** estimatedDrops per minute between first and last, null without two distinct timestamps of one clock. */
  perMinute: number | null;
  /**
   * Seconds from the last message to now; only known for the live host, where it is the last
   * message about this process's network namespace when there is one, else the last message.
   */
  lastAgeSeconds: number | null;
}

/** What the host (live or offline files) says about its conntrack configuration and counters. */
export interface HostFacts {
  /** live: read from this host; files: --sysctl/--stats/--kernel-log; texts: collectHostFactsFromTexts. */
  origin: "live" | "files" | "texts";
  /** Every sysctl value read, keyed in dotted form (net.netfilter.nf_conntrack_max). */
  sysctl: Record<string, string>;
  /** nf_conntrack_count (per network namespace). */
  count: number | null;
  /** nf_conntrack_max (global). */
  max: number | null;
  /** nf_conntrack_buckets. */
  buckets: number | null;
  /** The nf_conntrack module's hashsize parameter (same value as buckets on current kernels). */
  hashsize: number | null;
  /** Every nf_conntrack_*timeout* value in seconds, keyed without the prefix (tcp_timeout_established). */
  timeouts: Record<string, number>;
  /** nf_conntrack_acct: whether packets=/bytes= are counted. */
  acct: boolean | null;
  stats: ConntrackStats | null;
  /** Size in bytes of one nf_conntrack slab object (/proc/slabinfo). */
  slabObjectSize: number | null;
  /** MemTotal in bytes (/proc/meminfo). */
  memTotalBytes: number | null;
  /** 32 or 64. */
  wordBits: number | null;
  kernelLog: KernelLogFacts | null;
  /**
   * Inode of the network namespace the facts were read in (live only). The kernel log is shared
   * by all namespaces, and the count is per namespace: this tells which messages are about it.
   */
  netns: string | null;
  /** Whether that namespace is the initial one (messages without "in netns N"); null when unknown. */
  netnsIsInit: boolean | null;
  /** One short line per fact that could not be read, with the reason. */
  notes: string[];
}

export type Severity = "info" | "warning" | "critical";

/** Overall health numbers of the table. Every field is null when the facts to compute it are missing. */
export interface Health {
  /** Entries now: nf_conntrack_count, else the stats' entries, else the analyzed table. */
  count: number | null;
  countSource: "sysctl" | "stats" | "table" | null;
  max: number | null;
  /** count / max, 0..1 (may exceed 1 briefly). */
  fill: number | null;
  /** Entries UNREPLIED in the analyzed table, scaled to count when count came from the host. */
  unreplied: number | null;
  /** Fill without the UNREPLIED entries, which the kernel evicts first (early_drop). */
  effectiveFill: number | null;
  buckets: number | null;
  /** count / buckets. */
  avgChain: number | null;
  /** max / buckets: the average chain length once the table is full. */
  avgChainAtMax: number | null;
  /** nf_conntrack_max to set: keeps the current count at the target fill; the current max when it already does. */
  recommendedMax: number | null;
  /** Power of two giving an average chain of 2 to 4 at the recommended max. */
  recommendedHashsize: number | null;
  /** Kernel counters summed over CPUs; null when not available. */
  counters: {
    drop: number | null;
    early_drop: number | null;
    insert_failed: number | null;
    invalid: number | null;
    search_restart: number | null;
    chaintoolong: number | null;
    clash_resolve: number | null;
    error: number | null;
  };
  countersSource: "proc" | "conntrack-S" | null;
  cpus: number | null;
  memory: {
    /** Bytes per entry. */
    objectBytes: number;
    /** slabinfo: the real nf_conntrack object size; estimate: ~320 bytes. */
    objectSource: "slabinfo" | "estimate";
    /** Entries plus hash buckets now. */
    nowBytes: number | null;
    /** At the current max. */
    atMaxBytes: number | null;
    /** At the recommended max with the recommended hashsize. */
    atRecommendedMaxBytes: number | null;
  };
  /** The RAM-based sizing rule: max = RAM bytes / 16384 / (word bits / 32). */
  ramRule: { memTotalBytes: number; wordBits: number; max: number } | null;
  establishedTimeout: {
    seconds: number | null;
    source: "sysctl" | "inferred" | null;
    /** The value is a lower bound (inferred from remaining timeouts). */
    atLeast: boolean;
    /** Largest remaining timeout among ESTABLISHED entries in the table. */
    observedMax: number | null;
    note: string;
  };
  closeWaitTimeout: {
    seconds: number | null;
    source: "sysctl" | "inferred" | null;
    atLeast: boolean;
    /** 3600 s, the value kube-proxy sets (the kernel default is 60 s). */
    kubeProxy: boolean;
  };
  kernelLog: KernelLogFacts | null;
  /** Facts that could not be read. */
  notes: string[];
}

/** Something wrong (or worth knowing) about the table. */
export interface Anomaly {
  /** The rule name, followed by ":" and the subject for rules that can fire more than once (syn-flood:203.0.113.0/24). */
  id: string;
  severity: Severity;
  /** One line, with the main number. */
  title: string;
  /** What it is about: an address, a prefix, "udp/53 on 10.0.0.1", or "table". */
  subject: string;
  /** The numbers that triggered the rule. */
  evidence: Record<string, number | string>;
  /** Why it matters, in a sentence or two. */
  why: string;
}

/** Commands that address one anomaly. Printed, never executed. */
export interface Recommendation {
  id: string;
  /** Anomaly.id this answers. */
  anomaly: string;
  /** Exact, copy-pasteable shell commands; every value inserted was validated. */
  commands: string[];
  explanation: string;
}

export interface Diagnosis {
  health: Health;
  anomalies: Anomaly[];
  recommendations: Recommendation[];
}
