/**
 * Health: the table's numbers (fill, buckets, kernel counters, memory, sizing, timeouts) from the
 * host facts and the analyzed table. Nothing here judges; the rules do.
 */
import type { Snapshot } from "../engine/types.js";
import type { Thresholds } from "./thresholds.js";
import type { Health, HostFacts } from "./types.js";

/** Bytes per conntrack entry when /proc/slabinfo is not readable (field reports: 300–350). */
export const ESTIMATED_OBJECT_BYTES = 320;
/** The kernel's default established timeout: 5 days. */
export const DEFAULT_ESTABLISHED_TIMEOUT = 432000;
/** A remaining timeout above this proves more than the Kubernetes value (86400), hence the 5-day default or more. */
export const KUBERNETES_ESTABLISHED_TIMEOUT = 86400;
/** The kernel's default CLOSE_WAIT timeout, and the value kube-proxy sets instead. */
export const DEFAULT_CLOSE_WAIT_TIMEOUT = 60;
export const KUBE_PROXY_CLOSE_WAIT_TIMEOUT = 3600;
/** nf_conntrack_max is rounded up to a multiple of this when a new value is recommended. */
export const MAX_STEP = 65536;

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

function roundUp(n: number, step: number): number {
  return Math.ceil(n / step) * step;
}

/** nf_conntrack_max that keeps `count` at the target fill (the current max when it already does). */
export function recommendMax(count: number, max: number | null, targetFillPct: number): number {
  const needed = Math.ceil((count * 100) / targetFillPct);
  if (max !== null && needed <= max) return max;
  return Math.max(roundUp(needed, MAX_STEP), MAX_STEP);
}

/** Power-of-two hashsize giving 2–4 entries per bucket once `max` entries are in the table. */
export function recommendHashsize(max: number): number {
  return Math.max(nextPow2(Math.ceil(max / 4)), 1024);
}

export function computeHealth(snapshot: Snapshot | null, facts: HostFacts | null, t: Thresholds): Health {
  const notes = [...(facts?.notes ?? [])];
  const stats = facts?.stats ?? null;
  let count: number | null = null;
  let countSource: Health["countSource"] = null;
  if (facts?.count != null) {
    count = facts.count;
    countSource = "sysctl";
  } else if (stats?.entries != null) {
    count = stats.entries;
    countSource = "stats";
  } else if (snapshot) {
    count = snapshot.entries;
    countSource = "table";
  }
  const max = facts?.max ?? null;
  const fill = count !== null && max !== null && max > 0 ? count / max : null;
  let unreplied: number | null = null;
  if (snapshot && snapshot.entries > 0 && count !== null) {
    // The dump may be older or filtered: apply its unreplied share to the current count.
    unreplied = countSource === "table" ? snapshot.unreplied : Math.round((count * snapshot.unreplied) / snapshot.entries);
  } else if (snapshot && countSource === "table") unreplied = 0;
  const effectiveFill = fill !== null && unreplied !== null && max ? Math.max(0, count! - unreplied) / max : null;

  const buckets = facts?.buckets ?? facts?.hashsize ?? null;
  const avgChain = count !== null && buckets ? count / buckets : null;
  const avgChainAtMax = max !== null && buckets ? max / buckets : null;
  const recommendedMax = count !== null ? recommendMax(count, max, t.targetFillPct) : max;
  // Never recommend shrinking a hash table that is already large enough.
  const recommendedHashsize = recommendedMax !== null ? Math.max(recommendHashsize(recommendedMax), buckets ?? 0) : null;

  const tot = stats?.totals ?? {};
  const counter = (name: string): number | null => (stats && name in tot ? tot[name]! : null);
  const counters: Health["counters"] = {
    drop: counter("drop"),
    early_drop: counter("early_drop"),
    insert_failed: counter("insert_failed"),
    invalid: counter("invalid"),
    search_restart: counter("search_restart"),
    chaintoolong: counter("chaintoolong"),
    clash_resolve: counter("clash_resolve"),
    error: counter("error"),
  };

  const objectBytes = facts?.slabObjectSize ?? ESTIMATED_OBJECT_BYTES;
  const objectSource = facts?.slabObjectSize != null ? "slabinfo" : "estimate";
  const ptr = (facts?.wordBits ?? 64) / 8;
  const mem = (entries: number | null, b: number | null): number | null =>
    entries === null ? null : entries * objectBytes + (b ?? 0) * ptr;

  const ram = facts?.memTotalBytes ?? null;
  const bits = facts?.wordBits ?? null;
  const ramRule = ram !== null && bits !== null ? { memTotalBytes: ram, wordBits: bits, max: Math.floor(ram / 16384 / (bits / 32)) } : null;

  return {
    count,
    countSource,
    max,
    fill,
    unreplied,
    effectiveFill,
    buckets,
    avgChain,
    avgChainAtMax,
    recommendedMax,
    recommendedHashsize,
    counters,
    countersSource: stats ? stats.format : null,
    cpus: stats ? stats.cpus : null,
    memory: {
      objectBytes,
      objectSource,
      nowBytes: mem(count, buckets),
      atMaxBytes: mem(max, buckets),
      atRecommendedMaxBytes: mem(recommendedMax, recommendedHashsize),
    },
    ramRule,
    establishedTimeout: establishedTimeout(snapshot, facts),
    closeWaitTimeout: closeWaitTimeout(snapshot, facts),
    kernelLog: facts?.kernelLog ?? null,
    notes,
  };
}

/** The largest remaining timeout of the TCP entries in this state (from the state rows), null when none carried one. */
function stateMaxTimeout(snapshot: Snapshot | null, state: string): number | null {
  return snapshot?.by_state.find((r) => r.proto === "tcp" && r.state === state)?.max_timeout ?? null;
}

function establishedTimeout(snapshot: Snapshot | null, facts: HostFacts | null): Health["establishedTimeout"] {
  let observedMax = stateMaxTimeout(snapshot, "ESTABLISHED");
  if (snapshot) {
    // The histogram proves a lower bound even when classes are not available.
    for (const b of snapshot.established_timeouts) {
      if (b.count > 0 && b.from > 0) observedMax = Math.max(observedMax ?? 0, b.from);
    }
  }
  const sysctl = facts?.timeouts.tcp_timeout_established;
  if (sysctl !== undefined) {
    return { seconds: sysctl, source: "sysctl", atLeast: false, observedMax, note: "from sysctl" };
  }
  if (observedMax === null || observedMax <= 0) {
    return { seconds: null, source: null, atLeast: false, observedMax, note: "unknown (no sysctl and no ESTABLISHED entries)" };
  }
  if (observedMax > KUBERNETES_ESTABLISHED_TIMEOUT) {
    return {
      seconds: Math.max(DEFAULT_ESTABLISHED_TIMEOUT, observedMax),
      source: "inferred",
      atLeast: true,
      observedMax,
      note: `remaining timeouts up to ${observedMax} s exceed 86400 s: at least the 5-day default`,
    };
  }
  return {
    seconds: observedMax,
    source: "inferred",
    atLeast: true,
    observedMax,
    note: `at least the largest remaining timeout seen (${observedMax} s)`,
  };
}

function closeWaitTimeout(snapshot: Snapshot | null, facts: HostFacts | null): Health["closeWaitTimeout"] {
  const sysctl = facts?.timeouts.tcp_timeout_close_wait;
  if (sysctl !== undefined) {
    return { seconds: sysctl, source: "sysctl", atLeast: false, kubeProxy: sysctl === KUBE_PROXY_CLOSE_WAIT_TIMEOUT };
  }
  const observed = stateMaxTimeout(snapshot, "CLOSE_WAIT") ?? -1;
  // Above the 60 s default only a changed setting can explain it; kube-proxy's 3600 s is the usual one.
  if (observed > DEFAULT_CLOSE_WAIT_TIMEOUT) {
    return { seconds: observed, source: "inferred", atLeast: true, kubeProxy: observed <= KUBE_PROXY_CLOSE_WAIT_TIMEOUT };
  }
  return { seconds: null, source: null, atLeast: false, kubeProxy: false };
}
