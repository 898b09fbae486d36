import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { collectHostFactsFromTexts } from "../src/diagnose/hostfacts.js";
import { type Diagnosis, diagnose } from "../src/diagnose/index.js";
import { analyze } from "../src/engine/analyze.js";
import { generateBuffer } from "../src/gen/generate.js";
import { plantedTruth } from "../src/gen/model.js";

// A generated dump with planted anomalies: the diagnosis must find each one with its exact count.
const N = 50_000;
const dir = mkdtempSync(join(tmpdir(), "ctscope-diagnose-gen-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const get = (d: Diagnosis, id: string) => {
  const a = d.anomalies.find((x) => x.id === id);
  if (!a) throw new Error(`no anomaly ${id} in ${d.anomalies.map((x) => x.id).join(", ")}`);
  return a;
};

describe("planted anomalies of a generated dump", () => {
  it("dominant remotes (IPv4 and IPv6), the SYN flood prefix and the DNS flood, with exact counts", async () => {
    const path = join(dir, "gen.txt");
    writeFileSync(path, generateBuffer({ n: N, seed: 5 }));
    const truth = plantedTruth(N, 5);
    const p = truth.planted;
    const snap = await analyze({ inputs: [path], threads: 1, backend: "ts", inlineBelowBytes: 1e12 });
    expect(snap.entries).toBe(N);
    const facts = collectHostFactsFromTexts({
      sysctl: `net.netfilter.nf_conntrack_count = ${N}\nnet.netfilter.nf_conntrack_max = 65536\n`,
    });
    const d = diagnose(snap, facts);

    const dom = get(d, `dominant-remote:${p.dominantRemote.remote}_tcp/${p.dominantRemote.port}`);
    expect(dom.severity).toBe("critical");
    expect(dom.evidence).toMatchObject({
      entries: p.dominantRemote.count,
      established: p.dominantRemote.count,
      top_service_entries: p.dominantRemote.count,
    });
    expect(get(d, `dominant-remote:${p.v6Remote.remote}_tcp/${p.v6Remote.port}`).evidence.entries).toBe(p.v6Remote.count);

    const syn = get(d, `syn-flood:${p.synFlood.prefix}`);
    expect(syn.evidence.half_open).toBe(p.synFlood.count);
    expect(d.anomalies.filter((a) => a.id.startsWith("syn-flood:"))).toHaveLength(1);

    const dns = get(d, `udp-flood:udp/${p.dnsFlood.port}_on_${p.dnsFlood.local}`);
    expect(dns.evidence.unreplied_udp).toBe(p.dnsFlood.count);
    expect(d.anomalies.map((a) => a.id)).toContain("stateless-service:udp/53_server");
    expect(d.recommendations.map((r) => r.id)).toEqual(
      expect.arrayContaining([`drop-source:${p.synFlood.prefix}`, "notrack:udp/53_server", "raise-max"]),
    );
  });
});
