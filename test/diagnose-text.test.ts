import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { collectHostFactsFromTexts } from "../src/diagnose/hostfacts.js";
import { diagnose, diagnosisToJson } from "../src/diagnose/index.js";
import { renderDiagnosisText, wrap } from "../src/report/diagnosis-text.js";
import { buildSnapshot, ipv4, rows } from "./helpers/snapshot-builder.js";

const fx = (name: string) => readFileSync(new URL(`fixtures/diagnose/${name}`, import.meta.url), "latin1");
const ESC = String.fromCharCode(27);

function fieldDiagnosis() {
  const snap = buildSnapshot([
    { src: "10.0.0.5", dst: "142.250.1.188", dport: 5228, remote: "dst", count: 52000, maxTimeout: 431000 },
    ...rows(300, (i) => ({ src: "10.0.0.5", dst: ipv4(151, i * 3), dport: 443, remote: "dst" as const, count: 10, maxTimeout: 431500 })),
  ]);
  const facts = collectHostFactsFromTexts({
    sysctl: fx("sysctl-a.txt"),
    stats: fx("stat-chainlength.txt"),
    kernelLog: fx("dmesg.txt"),
    slabinfo: fx("slabinfo.txt"),
    meminfo: fx("meminfo.txt"),
  });
  return diagnose(snap, facts);
}

describe("renderDiagnosisText", () => {
  it("says one message, one line, one entry in the singular", () => {
    const one = collectHostFactsFromTexts({
      sysctl: "net.netfilter.nf_conntrack_count = 1\nnet.netfilter.nf_conntrack_max = 100\n",
      kernelLog: "[ 10.0] nf_conntrack: table full, dropping packet\n",
    });
    const text = renderDiagnosisText(diagnose(null, one), { color: false });
    expect(text).toContain('  Kernel log  1 "table full" message, ');
    const quiet = collectHostFactsFromTexts({ kernelLog: "[ 10.0] eth0: link up\n" });
    expect(renderDiagnosisText(diagnose(null, quiet), { color: false })).toContain('no "table full" messages in 1 line');
    const single = renderDiagnosisText(diagnose(buildSnapshot([{ src: "10.0.0.5", dst: "192.0.2.1", dport: 443 }]), null), {
      color: false,
    });
    expect(single).toMatch(/^ {2}Table {7}1 entry \(from the analyzed table\)/m);
  });

  it("has the three sections, the numbers, and the exact commands on their own lines", () => {
    const d = fieldDiagnosis();
    const text = renderDiagnosisText(d, { color: false });
    expect(text).not.toContain(ESC);
    expect(text).toMatch(/^Health\n {2}Table {7}58,982 of 65,536 entries \(90\.0% full\)\n/);
    expect(text).toContain("\nAnomalies (");
    expect(text).toContain("\nRecommendations (");
    expect(text).toContain('  Kernel log  4 "table full" messages + 211 suppressed ≈ 215 drops, [5012.118030] → [5072.118030],');
    expect(text).toContain("established 432,000 s = 5 d (sysctl)");
    const flat = text.replace(/\s+/g, " ");
    expect(flat).toContain("the kube-proxy setting");
    expect(flat).toContain("256 B per entry, from /proc/slabinfo");
    expect(text).toMatch(/ {2}CRITICAL {2}Dominant remote 142\.250\.1\.188 tcp\/5228: 52,000 entries/);
    for (const r of d.recommendations) for (const c of r.commands) expect(text).toContain(`\n       ${c}\n`);
  });

  it("prose is wrapped to the width; commands never are", () => {
    const d = fieldDiagnosis();
    const text = renderDiagnosisText(d, { color: false, width: 60 });
    const commands = new Set(d.recommendations.flatMap((r) => r.commands.map((c) => `       ${c}`)));
    const long = text.split("\n").filter((l) => l.length > 60 && !commands.has(l));
    expect(long).toEqual([]);
    const prose = text.split("\n").filter(
      (l) =>
        !commands.has(l) &&
        /\s\S+\s/.test(l.trim()) &&
        l
          .trim()
          .split(/\s+/)
          .every((w) => w.length < 40),
    );
    for (const line of prose) expect(line.length).toBeLessThanOrEqual(60);
  });

  it("colour only when asked", () => {
    const d = fieldDiagnosis();
    expect(renderDiagnosisText(d, { color: true })).toContain(ESC);
  });

  it("an empty diagnosis says so", () => {
    const text = renderDiagnosisText(diagnose(null, null), { color: false });
    expect(text).toBe(
      "Health\n  Table       entry count unknown\n\nAnomalies (0)\n  none found\n\nRecommendations (0)\n  nothing to change\n",
    );
  });

  it("wrap keeps words whole", () => {
    expect(wrap("aaa bbb ccc ddd", 9, "> ", "  ")).toEqual(["> aaa bbb", "  ccc ddd"]);
    expect(wrap("", 9, "> ")).toEqual(["> "]);
  });
});

describe("diagnosisToJson", () => {
  it("plain data with health, anomalies (id, severity, title, subject, evidence, why) and recommendations", () => {
    const d = fieldDiagnosis();
    const j = JSON.parse(JSON.stringify(diagnosisToJson(d)));
    expect(Object.keys(j)).toEqual(["health", "anomalies", "recommendations"]);
    expect(Object.keys(j.anomalies[0])).toEqual(["id", "severity", "title", "subject", "evidence", "why"]);
    expect(Object.keys(j.recommendations[0])).toEqual(["id", "anomaly", "commands", "explanation"]);
    expect(j.health.count).toBe(58982);
    expect(j.anomalies.length).toBe(d.anomalies.length);
    expect(j.recommendations[0].commands.length).toBeGreaterThan(0);
  });
});
