/**
 * Rules about the table as a whole: fill, hash chains, kernel drops, and the timeouts that keep
 * idle entries alive (established, orphaned, CLOSE_WAIT). Each rule returns findings: the anomaly
 * and the recommendations that answer it.
 */
import { portOf, protoOf } from "../engine/flow-columns.js";
import { PairInterner } from "../engine/pair-interner.js";
import { deleteEstablishedCommand, hashsizeCommands, inspectCommand, sysctlCommands } from "./commands.js";
import {
  type AnomalyDraft,
  byCountDesc,
  finish,
  int,
  isEstablished,
  isIncoming,
  logShares,
  pct,
  pctFloor,
  type RuleContext,
  r1,
  serviceOf,
  stateEntries,
} from "./context.js";
import { DEFAULT_CLOSE_WAIT_TIMEOUT, recommendHashsize, recommendMax } from "./health.js";
import type { Anomaly, Recommendation } from "./types.js";

export interface Finding {
  anomaly: Anomaly;
  recommendations: Array<Omit<Recommendation, "anomaly">>;
}

export function found(draft: AnomalyDraft, withSubject: boolean, recs: Array<Omit<Recommendation, "anomaly"> | null> = []): Finding {
  return { anomaly: finish(draft, withSubject), recommendations: recs.filter((r): r is Omit<Recommendation, "anomaly"> => r !== null) };
}

function memText(bytes: number | null): string {
  if (bytes === null) return "unknown";
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${(bytes / 1e3).toFixed(0)} kB`;
}

/** Raise nf_conntrack_max (and the hashsize with it) to `newMax`. */
function raiseMax(ctx: RuleContext, id: string, newMax: number, why: string): Omit<Recommendation, "anomaly"> | null {
  const h = ctx.health;
  const cmds = sysctlCommands("nf_conntrack_max", newMax);
  if (!cmds) return null;
  const hash = recommendHashsize(newMax);
  const buckets = h.buckets;
  if (buckets === null || newMax / buckets > 4) cmds.push(...(hashsizeCommands(hash) ?? []));
  const perEntry = h.memory.objectBytes;
  const ptr = (ctx.facts?.wordBits ?? 64) / 8;
  const mem = newMax * perEntry + hash * ptr;
  let text = `${why} Raising nf_conntrack_max to ${int(newMax)} keeps the current entries at ${ctx.t.targetFillPct}% or less; at that size the table can use about ${memText(mem)} of kernel memory (${perEntry} bytes per entry, ${h.memory.objectSource === "slabinfo" ? "from /proc/slabinfo" : "estimated"}).`;
  if (buckets === null || newMax / buckets > 4)
    text += ` The hash table grows with it to ${int(hash)} buckets (2–4 entries per bucket when full).`;
  if (h.ramRule && newMax > h.ramRule.max * 4) {
    text += ` That is over 4× the RAM-based sizing (${int(h.ramRule.max)}): check the memory before applying.`;
  }
  if (h.memory.atRecommendedMaxBytes !== null && h.ramRule && mem > h.ramRule.memTotalBytes * 0.1) {
    text += " It would take more than 10% of RAM.";
  }
  return { id, commands: cmds, explanation: text };
}

export function tableFillRule(ctx: RuleContext): Finding[] {
  const h = ctx.health;
  if (h.fill === null || h.count === null || h.max === null) return [];
  const fillPct = h.fill * 100;
  if (fillPct < ctx.t.fillWarningPct) return [];
  const severity = fillPct >= ctx.t.fillCriticalPct ? "critical" : "warning";
  const full = h.count >= h.max;
  const evidence: Record<string, number | string> = { count: h.count, max: h.max, fill_pct: Math.floor(fillPct * 10) / 10 };
  if (h.effectiveFill !== null) evidence.effective_fill_pct = r1(h.effectiveFill * 100);
  if (h.unreplied !== null) evidence.unreplied = h.unreplied;
  const effective =
    h.effectiveFill !== null && (h.unreplied ?? 0) > 0
      ? ` Without its ${int(h.unreplied ?? 0)} unreplied entries (evicted first) it is ${pct(h.effectiveFill)} full.`
      : "";
  const draft: AnomalyDraft = {
    rule: "table-full",
    severity,
    title: full
      ? `Table at its max: ${int(h.count)} of ${int(h.max)} entries`
      : `Table ${pctFloor(h.fill)} full: ${int(h.count)} of ${int(h.max)} entries`,
    subject: "table",
    evidence,
    why: `At nf_conntrack_max the kernel first evicts entries that never saw a reply (early_drop), then drops the packets of new connections ("table full, dropping packet"); clients retry and add load.${effective}`,
  };
  const newMax = recommendMax(h.count, h.max, ctx.t.targetFillPct);
  const rec =
    newMax > h.max
      ? raiseMax(ctx, "raise-max", newMax, "If the traffic is legitimate (no flood or leak below), the table is too small.")
      : null;
  return [found(draft, false, [rec])];
}

export function hashChainRule(ctx: RuleContext): Finding[] {
  const h = ctx.health;
  if (h.buckets === null || h.count === null) return [];
  const avg = h.count / h.buckets;
  const atMax = h.avgChainAtMax;
  const tooLong = h.counters.chaintoolong ?? 0;
  let severity: Anomaly["severity"];
  let title: string;
  if (avg > ctx.t.chainWarning) {
    severity = "warning";
    title = `Hash chains average ${avg.toFixed(1)} entries per bucket (${int(h.count)} entries in ${int(h.buckets)} buckets)`;
  } else if (tooLong > 0) {
    severity = "warning";
    title = `The kernel found ${int(tooLong)} over-long hash chains (chaintoolong)`;
  } else if (atMax !== null && atMax > ctx.t.chainWarning) {
    severity = "info";
    title = `At nf_conntrack_max the hash chains would average ${atMax.toFixed(1)} entries per bucket`;
  } else return [];
  const evidence: Record<string, number | string> = { count: h.count, buckets: h.buckets, avg_chain: r1(avg) };
  if (atMax !== null) evidence.avg_chain_at_max = r1(atMax);
  if (h.counters.chaintoolong !== null) evidence.chaintoolong = h.counters.chaintoolong;
  const target = Math.max(h.max ?? 0, h.recommendedMax ?? 0, h.count);
  const size = recommendHashsize(target);
  const cmds = size > h.buckets ? hashsizeCommands(size) : null;
  const draft: AnomalyDraft = {
    rule: "hash-chains",
    severity,
    title,
    subject: "table",
    evidence,
    why: `Every packet walks one hash chain; above ${ctx.t.chainWarning} entries per bucket lookups cost CPU, and chains too long make the kernel drop (chaintoolong). 2–4 per bucket is the target on busy hosts.`,
  };
  const rec = cmds
    ? {
        id: "resize-hash",
        commands: cmds,
        explanation: `A hashsize of ${int(size)} gives 2–4 entries per bucket with ${int(target)} entries. Resizing rehashes the live table (a short pause on a very large table); the modprobe option keeps it after a reboot or module reload.`,
      }
    : null;
  return [found(draft, false, [rec])];
}

export function dropsRule(ctx: RuleContext): Finding[] {
  const h = ctx.health;
  const c = h.counters;
  const log = h.kernelLog;
  const counterDrops = (c.drop ?? 0) + (c.early_drop ?? 0);
  const hasCounters = ctx.t.dropsMin > 0 && c.drop !== null && counterDrops >= ctx.t.dropsMin;
  const hasLog = log !== null && log.tableFull > 0;
  const insertFailed = c.insert_failed ?? 0;
  if (!hasCounters && !hasLog && insertFailed === 0) return [];
  const evidence: Record<string, number | string> = {};
  if (c.drop !== null) evidence.drop = c.drop;
  if (c.early_drop !== null) evidence.early_drop = c.early_drop;
  if (c.insert_failed !== null) evidence.insert_failed = c.insert_failed;
  if (c.drop !== null && h.cpus !== null) evidence.cpus = h.cpus;
  if (log && hasLog) {
    evidence.log_table_full = log.tableFull;
    evidence.log_suppressed = log.suppressed;
    evidence.log_estimated_drops = log.estimatedDrops;
    if (log.perMinute !== null) evidence.log_per_minute = r1(log.perMinute);
    if (log.first) evidence.log_first = log.first.text;
    if (log.last) evidence.log_last = log.last.text;
    if (log.lastAgeSeconds !== null) evidence.log_last_age_s = Math.round(log.lastAgeSeconds);
    evidence.log_netns = Object.entries(log.byNetns)
      .map(([ns, n]) => `${ns}:${n}`)
      .join(",");
  }
  if (!hasCounters && !hasLog) {
    return [
      found(
        {
          rule: "drops",
          severity: "info",
          title: `${int(insertFailed)} insert_failed without drops`,
          subject: "kernel",
          evidence,
          why: "insert_failed without drop or early_drop is usually two packets of one new flow racing on different CPUs (the UDP DNS race on NAT hosts), not a full table.",
        },
        false,
      ),
    ];
  }
  const shares = logShares(log, ctx.facts);
  let severity: Anomaly["severity"] = "warning";
  const ownLog = hasLog && shares.own > 0;
  if (ownLog && log!.lastAgeSeconds !== null && log!.lastAgeSeconds <= ctx.t.recentLogSeconds) severity = "critical";
  if (ownLog && log!.lastAgeSeconds === null && h.fill !== null && h.fill * 100 >= ctx.t.fillWarningPct) severity = "critical";
  const parts: string[] = [];
  if (hasLog) {
    const where =
      shares.others > 0 ? ` (${shares.own > 0 ? `${int(shares.own)} here, ` : ""}${int(shares.others)} in other network namespaces)` : "";
    parts.push(
      `${int(log!.tableFull)} "table full" kernel messages${where}, about ${int(log!.estimatedDrops)} drops with the suppressed ones`,
    );
  }
  if (hasCounters) parts.push(`drop ${int(c.drop ?? 0)}, early_drop ${int(c.early_drop ?? 0)} since boot`);
  if (hasLog && shares.others > 0) evidence.log_other_netns = shares.others;
  const otherOnly = hasLog && shares.own === 0 && !hasCounters;
  const draft: AnomalyDraft = {
    rule: "drops",
    severity,
    title: otherOnly
      ? `Other network namespaces dropped packets for a full table: ${parts.join("; ")}`
      : `Packets dropped for a full table: ${parts.join("; ")}`,
    subject: "kernel",
    evidence,
    why: `${otherOnly ? "Each namespace counts its own entries against the global nf_conntrack_max; these messages are about other namespaces (containers, pods) on this host, not the analyzed one. " : ""}Each drop is a new connection refused by the kernel; clients retry, which amplifies the load (a DNS server seen doubling its traffic). early_drop means the table was full and unreplied entries were evicted to make room. The counters count since boot.`,
  };
  const recs: Array<Omit<Recommendation, "anomaly"> | null> = [];
  // The table reached its max when the drops happened; headroom above it, unless a flood explains it.
  if (h.max !== null && (hasLog || (c.drop ?? 0) > 0)) {
    const newMax = recommendMax(h.max, null, ctx.t.targetFillPct);
    recs.push(
      raiseMax(
        ctx,
        "raise-max",
        newMax,
        `The table was full (${int(h.max)} entries) when these drops happened. Unless a flood or leak below explains it, give it headroom.`,
      ),
    );
  }
  return [found(draft, false, recs)];
}

/**
 * ESTABLISHED entries idle at least `idle` seconds under timeout T: lower bound from classes and
 * the histogram. mark (per class, optional): set to 1 for the idle classes; a byte per class,
 * since a leak can make millions of them.
 */
export function idleEstablished(ctx: RuleContext, T: number, idle: number, mark?: Uint8Array): number {
  const cutoff = T - idle;
  if (cutoff <= 0) return 0;
  const f = ctx.flows;
  let fromClasses = 0;
  const established = stateEntries(ctx.snapshot, ["tcp"], ["ESTABLISHED"]);
  for (let i = 0; established > 0 && i < f.n; i++) {
    const mt = f.maxTimeout[i]!;
    if (isEstablished(f, i) && mt >= 0 && mt < cutoff) {
      if (mark) mark[i] = 1;
      fromClasses += f.count[i]!;
    }
  }
  let fromHist = 0;
  for (const b of ctx.snapshot?.established_timeouts ?? []) if (b.to !== null && b.to <= cutoff) fromHist += b.count;
  return Math.max(fromClasses, fromHist);
}

function idleSeverity(ctx: RuleContext, entries: number): Anomaly["severity"] {
  return ctx.total > 0 && (entries / ctx.total) * 100 >= ctx.t.idleSharePct ? "warning" : "info";
}

export function longEstablishedRule(ctx: RuleContext): Finding[] {
  const est = ctx.health.establishedTimeout;
  const target = ctx.t.establishedTimeoutTarget;
  if (est.seconds === null || est.seconds <= target) return [];
  const idle = idleEstablished(ctx, est.seconds, target);
  if (idle < ctx.t.minEntries) return [];
  const share = ctx.total > 0 ? idle / ctx.total : 0;
  const draft: AnomalyDraft = {
    rule: "long-established-timeout",
    severity: idleSeverity(ctx, idle),
    title: `Established timeout ${est.atLeast ? "≥ " : ""}${int(est.seconds)} s keeps ${int(idle)} entries idle over ${int(target)} s (${pct(share)} of the table)`,
    subject: "nf_conntrack_tcp_timeout_established",
    evidence: {
      established_timeout_s: est.seconds,
      source: est.source ?? "unknown",
      idle_over_target: idle,
      idle_share_pct: r1(share * 100),
      target_s: target,
    },
    why: `An ESTABLISHED entry lives ${int(est.seconds)} s after its last packet (the kernel default is 5 days). A connection silent for more than ${int(target)} s is usually gone (peer rebooted, FIN or RST lost) yet keeps its slot; ${est.source === "inferred" ? `${est.note}. ` : ""}Kubernetes nodes use ${int(86400)} s.`,
  };
  const cmds = sysctlCommands("nf_conntrack_tcp_timeout_established", target);
  const rec = cmds
    ? {
        id: "established-timeout",
        commands: cmds,
        explanation: `Entries idle longer than ${int(target)} s (about ${int(idle)} now) expire after the change; live connections are not affected (any packet refreshes the timeout). Applications that keep idle connections longer should use TCP keepalive.`,
      }
    : null;
  return [found(draft, false, [rec])];
}

/** Share of the orphans one remote + service must hold to be named as their owner. */
export const ORPHAN_OWNER_SHARE = 0.2;

export function orphanRule(ctx: RuleContext): Finding[] {
  const T = ctx.health.establishedTimeout.seconds;
  if (T === null) return [];
  const idleFor = ctx.t.orphanIdleSeconds;
  const f = ctx.flows;
  // The classes of either kind below, for naming who holds them.
  const inAny = new Uint8Array(f.n);
  const idle = idleEstablished(ctx, T, idleFor, inAny);
  // With accounting on for every entry, ESTABLISHED classes that carried only the handshake (≤ 3 packets each) and are idle.
  let noTraffic = 0;
  const allAccounted = ctx.snapshot !== null && ctx.snapshot.entries > 0 && ctx.snapshot.accounted === ctx.snapshot.entries;
  if (allAccounted) {
    for (let i = 0; i < f.n; i++) {
      const mt = f.maxTimeout[i]!;
      if (isEstablished(f, i) && f.packets[i]! <= 3 * f.count[i]! && mt >= 0 && mt < T - 300) {
        noTraffic += f.count[i]!;
        inAny[i] = 1;
      }
    }
  }
  const entries = Math.max(idle, noTraffic);
  if (entries < ctx.t.minEntries) return [];
  // Who holds them: the remote + service with most idle entries. Grouped by ids (remote, protocol,
  // port, direction); text only for the groups tied for the most.
  const groups = new PairInterner();
  const groupCount: number[] = [];
  const groupClass: number[] = [];
  for (let i = 0; i < f.n; i++) {
    if (inAny[i] === 0) continue;
    const port = f.dport[i]! < 0 ? 65536 : f.dport[i]!;
    const g = groups.id(f.remote[i]!, (f.proto[i]! * 65537 + port) * 2 + (isIncoming(f, i) ? 1 : 0));
    if (g === groupCount.length) {
      groupCount.push(f.count[i]!);
      groupClass.push(i);
    } else groupCount[g]! += f.count[i]!;
  }
  let best = 0;
  for (const c of groupCount) best = Math.max(best, c);
  const tied = new Map<string, { count: number; i: number }>();
  groupCount.forEach((count, g) => {
    const i = groupClass[g]!;
    if (count === best) tied.set(`${f.addr(f.remote[i]!)} ${serviceOf(f, i)} ${isIncoming(f, i) ? "in" : "out"}`, { count, i });
  });
  // Name the owner only when one remote + service holds a fair part of them; spread orphans are the timeout's fault.
  const first = byCountDesc(tied)[0];
  const topEntry = first && first[1].count >= Math.max(ORPHAN_OWNER_SHARE * entries, ctx.t.minEntries / 10) ? first : undefined;
  const share = ctx.total > 0 ? entries / ctx.total : 0;
  const evidence: Record<string, number | string> = {
    orphaned: entries,
    share_pct: r1(share * 100),
    idle_over_s: idleFor,
    established_timeout_s: T,
  };
  if (allAccounted) evidence.handshake_only = noTraffic;
  let subject = "ESTABLISHED";
  const recs: Array<Omit<Recommendation, "anomaly"> | null> = [];
  if (topEntry) {
    const { i, count } = topEntry[1];
    const remote = f.addr(f.remote[i]!);
    subject = `${remote} ${serviceOf(f, i)}`;
    evidence.top_remote = remote;
    evidence.top_service = serviceOf(f, i);
    evidence.top_entries = count;
    const dir = isIncoming(f, i) ? "incoming" : "outgoing";
    const inspect = inspectCommand(remote, protoOf(f, i), portOf(f, i), dir);
    const del = deleteEstablishedCommand(remote, portOf(f, i), dir);
    if (inspect && del) {
      recs.push({
        id: `clear-orphans:${subject.replace(/\s+/g, "_")}`,
        commands: [inspect, del],
        explanation: `Look at the entries first; deleting the ESTABLISHED entries of ${subject} frees ${int(count)} slots at once. Connections still alive are tracked again on their next packet (nf_conntrack_tcp_loose=1, the default). If they come back, the peer or a firewall is losing FIN/RST packets, or the application leaks connections: fix that, or lower the established timeout.`,
      });
    }
  }
  const draft: AnomalyDraft = {
    rule: "orphaned-established",
    severity: idleSeverity(ctx, entries),
    title: `${int(entries)} ESTABLISHED entries idle over ${int(idleFor)} s (${pct(share)} of the table)${topEntry ? `, most to ${subject}` : ""}`,
    subject,
    evidence,
    why: `An ESTABLISHED entry is refreshed by every packet; one silent for more than ${int(idleFor)} s under a ${int(T)} s timeout is most likely an orphan: the peer vanished or its FIN/RST was lost, and the entry waits out the whole timeout.`,
  };
  return [found(draft, false, recs)];
}

export function closeWaitRule(ctx: RuleContext): Finding[] {
  const cw = ctx.health.closeWaitTimeout;
  if (cw.seconds === null || cw.seconds <= DEFAULT_CLOSE_WAIT_TIMEOUT) return [];
  let entries = 0;
  for (const s of ctx.snapshot?.by_state ?? []) if (s.proto === "tcp" && s.state === "CLOSE_WAIT") entries += s.count;
  if (entries < ctx.t.minEntries) return [];
  const share = ctx.total > 0 ? entries / ctx.total : 0;
  const draft: AnomalyDraft = {
    rule: "close-wait-timeout",
    severity: idleSeverity(ctx, entries),
    title: `${int(entries)} CLOSE_WAIT entries held ${cw.atLeast ? "≥ " : ""}${int(cw.seconds)} s (${pct(share)} of the table)`,
    subject: "nf_conntrack_tcp_timeout_close_wait",
    evidence: {
      close_wait_entries: entries,
      share_pct: r1(share * 100),
      close_wait_timeout_s: cw.seconds,
      source: cw.source ?? "unknown",
      kube_proxy: cw.kubeProxy ? "yes" : "no",
    },
    why: `The kernel default keeps CLOSE_WAIT entries ${DEFAULT_CLOSE_WAIT_TIMEOUT} s; ${cw.kubeProxy ? "kube-proxy sets 3600 s (--conntrack-tcp-timeout-close-wait)" : "a changed setting keeps them longer"}, so half-closed connections pile up.`,
  };
  const cmds = sysctlCommands("nf_conntrack_tcp_timeout_close_wait", DEFAULT_CLOSE_WAIT_TIMEOUT);
  const rec = cmds
    ? {
        id: "close-wait-timeout",
        commands: cmds,
        explanation: cw.kubeProxy
          ? "kube-proxy rewrites this value when it starts: set conntrack.tcpCloseWaitTimeout in its configuration instead, or the change is lost."
          : `Back to the kernel default of ${DEFAULT_CLOSE_WAIT_TIMEOUT} s.`,
      }
    : null;
  return [found(draft, false, [rec])];
}
