/**
 * The diagnosis: Snapshot + HostFacts → health numbers, anomalies (worst first) and the
 * recommendations that answer them.
 */
import type { Snapshot } from "../engine/types.js";
import { NO_FLOWS, type RuleContext, severityRank, underPressure } from "./context.js";
import { computeHealth } from "./health.js";
import { closeWaitRule, dropsRule, type Finding, hashChainRule, longEstablishedRule, orphanRule, tableFillRule } from "./rules-table.js";
import { dominantRemoteRule, scanRule, statelessRule, synFloodRule, udpFloodRule } from "./rules-traffic.js";
import { resolveThresholds, type Thresholds } from "./thresholds.js";
import type { Anomaly, Diagnosis, HostFacts, Recommendation } from "./types.js";

export { collectHostFactsFromTexts, collectLiveHostFacts, type HostFactTexts, loadOfflineHostFacts } from "./hostfacts.js";
export { parseKernelLog } from "./kernel-log.js";
export { parseMeminfo, parseSlabinfo } from "./proc-text.js";
export { parseConntrackStats } from "./stats.js";
export { parseSysctl } from "./sysctl.js";
export {
  DEFAULT_THRESHOLDS,
  parseThresholdValue,
  resolveThresholds,
  THRESHOLD_OPTIONS,
  type ThresholdOption,
  type Thresholds,
} from "./thresholds.js";
export type * from "./types.js";

/** Rules in report order (within one severity). */
const RULES: Array<(ctx: RuleContext) => Finding[]> = [
  tableFillRule,
  dropsRule,
  dominantRemoteRule,
  synFloodRule,
  udpFloodRule,
  scanRule,
  statelessRule,
  orphanRule,
  longEstablishedRule,
  closeWaitRule,
  hashChainRule,
];

/**
 * Diagnose a snapshot (null when only host facts are known) with the host facts (null when none).
 * Thresholds default to DEFAULT_THRESHOLDS; throws UsageError when they contradict each other.
 */
export function diagnose(snapshot: Snapshot | null, facts: HostFacts | null, thresholds: Partial<Thresholds> = {}): Diagnosis {
  const t = resolveThresholds(thresholds);
  const health = computeHealth(snapshot, facts, t);
  const ctx: RuleContext = {
    snapshot,
    flows: snapshot?.flows ?? NO_FLOWS,
    total: snapshot?.entries ?? 0,
    facts,
    health,
    t,
    pressure: underPressure(health, t, facts),
  };
  const findings = RULES.flatMap((rule) => rule(ctx));
  // Worst first; the rule order breaks ties (sort is stable).
  findings.sort((a, b) => severityRank(b.anomaly.severity) - severityRank(a.anomaly.severity));
  const anomalies: Anomaly[] = [];
  const recommendations: Recommendation[] = [];
  const seenIds = new Set<string>();
  const seenRecs = new Set<string>();
  for (const f of findings) {
    if (seenIds.has(f.anomaly.id)) continue;
    seenIds.add(f.anomaly.id);
    anomalies.push(f.anomaly);
    for (const r of f.recommendations) {
      // The same change answering two findings (raise-max for table-full and drops) is printed once.
      const key = `${r.id}\n${r.commands.join("\n")}`;
      if (seenRecs.has(r.id) || seenRecs.has(key) || r.commands.length === 0) continue;
      seenRecs.add(r.id);
      seenRecs.add(key);
      recommendations.push({ id: r.id, anomaly: f.anomaly.id, commands: r.commands, explanation: r.explanation });
    }
  }
  return { health, anomalies, recommendations };
}

/** Worst severity among the anomalies, or null when there are none. */
export function worstSeverity(d: Diagnosis): Anomaly["severity"] | null {
  let worst: Anomaly["severity"] | null = null;
  for (const a of d.anomalies) if (worst === null || severityRank(a.severity) > severityRank(worst)) worst = a.severity;
  return worst;
}

/** The JSON form of a diagnosis: plain data, stable key order. */
export function diagnosisToJson(d: Diagnosis): {
  health: Diagnosis["health"];
  anomalies: Array<Pick<Anomaly, "id" | "severity" | "title" | "subject" | "evidence" | "why">>;
  recommendations: Array<Pick<Recommendation, "id" | "anomaly" | "commands" | "explanation">>;
} {
  return {
    health: structuredClone(d.health),
    anomalies: d.anomalies.map((a) => ({
      id: a.id,
      severity: a.severity,
      title: a.title,
      subject: a.subject,
      evidence: { ...a.evidence },
      why: a.why,
    })),
    recommendations: d.recommendations.map((r) => ({
      id: r.id,
      anomaly: r.anomaly,
      commands: [...r.commands],
      explanation: r.explanation,
    })),
  };
}
