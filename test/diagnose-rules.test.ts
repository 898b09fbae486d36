import { describe, expect, it } from "vitest";
import { collectHostFactsFromTexts } from "../src/diagnose/hostfacts.js";
import { type Anomaly, type Diagnosis, diagnose } from "../src/diagnose/index.js";
import { columnsFromClasses } from "../src/engine/flow-columns.js";
import { buildSnapshot, ipv4, type Row, rows, toClass } from "./helpers/snapshot-builder.js";

const facts = (count: number, max: number, extra = "") =>
  collectHostFactsFromTexts({
    sysctl: `net.netfilter.nf_conntrack_count = ${count}\nnet.netfilter.nf_conntrack_max = ${max}\nnet.netfilter.nf_conntrack_buckets = ${max}\n${extra}`,
  });
const ids = (d: Diagnosis) => d.anomalies.map((a) => a.id);
const get = (d: Diagnosis, id: string): Anomaly => {
  const a = d.anomalies.find((x) => x.id === id);
  if (!a) throw new Error(`no anomaly ${id} in ${ids(d).join(", ")}`);
  return a;
};

/** 4000 clients in 100 /24s, 4 entries each, to a local web server, plus TIME_WAIT: no one dominates. */
function benignRows(): Row[] {
  return [
    ...rows(4000, (i) => ({ src: ipv4(100, i * 7), dst: "10.0.0.1", dport: 443, count: 3, maxTimeout: 431990 - (i % 500) })),
    ...rows(4000, (i) => ({ src: ipv4(100, i * 7), dst: "10.0.0.1", dport: 443, state: "TIME_WAIT", count: 1, maxTimeout: 100 })),
    ...rows(50, (i) => ({ src: "10.0.0.1", dst: ipv4(172, i), dport: 5432, remote: "dst", count: 20, maxTimeout: 431000 })),
  ];
}

/** The field case: 52k ESTABLISHED from this host to one remote on port 5228, 300 other remotes with 10 each. */
function fieldCaseRows(): Row[] {
  return [
    { src: "10.0.0.5", dst: "142.250.1.188", dport: 5228, remote: "dst", count: 52000, maxTimeout: 431000 },
    ...rows(300, (i) => ({ src: "10.0.0.5", dst: ipv4(151, i * 3), dport: 443, remote: "dst" as const, count: 10, maxTimeout: 431500 })),
  ];
}

describe("benign busy table", () => {
  it("many clients, none dominant: no critical and no warning", () => {
    const snap = buildSnapshot(benignRows());
    expect(snap.entries).toBe(17000);
    const d = diagnose(snap, facts(17000, 262144, "net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n"));
    expect(d.anomalies.filter((a) => a.severity !== "info")).toEqual([]);
    expect(d.health.fill).toBeCloseTo(17000 / 262144, 12);
  });

  it("still no critical without host facts", () => {
    const d = diagnose(buildSnapshot(benignRows()), null);
    expect(d.anomalies.filter((a) => a.severity === "critical")).toEqual([]);
  });
});

describe("dominant remote", () => {
  it("the field case: 52k ESTABLISHED to one host port 5228 is critical on a table near its max", () => {
    const snap = buildSnapshot(fieldCaseRows());
    const d = diagnose(snap, facts(55000, 65536));
    const a = get(d, "dominant-remote:142.250.1.188_tcp/5228");
    expect(a.severity).toBe("critical");
    expect(a.subject).toBe("142.250.1.188 tcp/5228");
    expect(a.evidence).toMatchObject({
      entries: 52000,
      share_pct: 94.5,
      ratio_to_median: 5200,
      median_remote_entries: 10,
      distinct_remotes: 301,
      direction: "outgoing",
      top_service: "tcp/5228",
      established: 52000,
    });
    expect(get(d, "table-full").severity).toBe("warning");
    // Worst first.
    expect(d.anomalies[0]!.severity).toBe("critical");
    expect(ids(d).filter((i) => i.startsWith("dominant-remote"))).toHaveLength(1);
  });

  it("is a warning when the table has room", () => {
    const d = diagnose(buildSnapshot(fieldCaseRows()), null);
    expect(get(d, "dominant-remote:142.250.1.188_tcp/5228").severity).toBe("warning");
  });

  it("the only remote of a table is dominant (ratio not applicable)", () => {
    const d = diagnose(buildSnapshot([{ src: "10.0.0.5", dst: "192.0.2.80", dport: 8080, remote: "dst", count: 5000 }]), null);
    expect(get(d, "dominant-remote:192.0.2.80_tcp/8080").evidence.ratio_to_median).toBe("only remote");
  });

  it("a remote spread over many services is reported without a service", () => {
    const d = diagnose(
      buildSnapshot([
        ...rows(10, (i) => ({ src: "10.0.0.5", dst: "192.0.2.80", dport: 8000 + i, remote: "dst" as const, count: 500 })),
        ...rows(200, (i) => ({ src: "10.0.0.5", dst: ipv4(151, i), dport: 443, remote: "dst" as const, count: 5 })),
      ]),
      null,
    );
    expect(get(d, "dominant-remote:192.0.2.80").evidence).toMatchObject({ entries: 5000, ratio_to_median: 1000 });
  });

  it("below the share, the minimum or the ratio: nothing", () => {
    // 1.5% share only, though 150 times the median remote; flagged once the share threshold is 1%.
    const lowShare = buildSnapshot([
      { src: "10.0.0.5", dst: "192.0.2.80", remote: "dst", count: 1500 },
      ...rows(10000, (i) => ({ src: "10.0.0.5", dst: ipv4(151, i), remote: "dst" as const, count: 10 })),
    ]);
    expect(ids(diagnose(lowShare, null)).filter((i) => i.startsWith("dominant"))).toEqual([]);
    expect(get(diagnose(lowShare, null, { dominantSharePct: 1 }), "dominant-remote:192.0.2.80_tcp/80").evidence).toMatchObject({
      entries: 1500,
      ratio_to_median: 150,
    });
    // Few entries.
    const small = diagnose(buildSnapshot([{ src: "10.0.0.5", dst: "192.0.2.80", remote: "dst", count: 900 }]), null);
    expect(ids(small)).toEqual([]);
    // Two equal big remotes: ratio to the median of the others is 1.
    const two = diagnose(
      buildSnapshot([
        { src: "10.0.0.5", dst: "192.0.2.80", remote: "dst", count: 5000 },
        { src: "10.0.0.5", dst: "192.0.2.81", remote: "dst", count: 5000 },
      ]),
      null,
    );
    expect(ids(two)).toEqual([]);
  });
});

describe("dominance helpers", () => {
  it("test classes carry the entries per remote that the dimensions give", () => {
    const flows = columnsFromClasses([
      toClass({ src: "10.0.0.1", dst: "192.0.2.1", remote: "dst", count: 3 }),
      toClass({ src: "10.0.0.2", dst: "192.0.2.1", remote: "dst", count: 2 }),
      toClass({ src: "198.51.100.9", dst: "10.0.0.1", remote: "src", count: 4 }),
    ]);
    const byText = new Map([...flows.remoteCount.keys()].map((id) => [flows.addr(id), flows.remoteCount[id]]));
    expect(byText.get("192.0.2.1")).toBe(5);
    expect(byText.get("198.51.100.9")).toBe(4);
    expect(byText.get("10.0.0.1")).toBe(0);
  });
});

describe("SYN floods and scans", () => {
  it("one source with many half-open entries", () => {
    const d = diagnose(
      buildSnapshot([
        { src: "203.0.113.66", dst: "10.0.0.1", dport: 80, state: "SYN_RECV", count: 3000, maxTimeout: 59 },
        { src: "203.0.113.66", dst: "10.0.0.1", dport: 80, state: "SYN_SENT", unreplied: true, count: 500, maxTimeout: 119 },
        ...benignRows(),
      ]),
      null,
    );
    const a = get(d, "syn-flood:203.0.113.66");
    expect(a.severity).toBe("warning");
    expect(a.evidence).toMatchObject({ half_open: 3500, unreplied: 500, sources: 1, share_pct: r1((3500 / 20500) * 100) });
    expect(ids(d).filter((i) => i.startsWith("dominant"))).toEqual([]);
  });

  it("a /24 of many sources, and an IPv6 /64", () => {
    const d = diagnose(
      buildSnapshot([
        ...rows(50, (i) => ({
          src: `198.51.100.${i + 1}`,
          dst: "10.0.0.1",
          dport: 22,
          state: "SYN_SENT",
          unreplied: true,
          count: 20,
          maxTimeout: 100,
        })),
        ...rows(40, (i) => ({
          src: `2001:db8:1:2::${(i + 1).toString(16)}`,
          dst: "2001:db8::1",
          dport: 22,
          state: "SYN_SENT",
          unreplied: true,
          count: 10,
          maxTimeout: 100,
        })),
      ]),
      null,
    );
    expect(get(d, "syn-flood:198.51.100.0/24").evidence).toMatchObject({ half_open: 1000, unreplied: 1000, sources: 50 });
    expect(get(d, "syn-flood:2001:db8:1:2::/64").evidence).toMatchObject({ half_open: 400, sources: 40 });
  });

  it("a source prefix holding exactly the threshold is a flood, one entry fewer is not (SYN and UDP)", () => {
    // The /24 holds nothing but its flood: its total is the kept count, right at the threshold.
    const syn = (n: number) =>
      rows(n, (i) => ({ src: `198.51.100.${(i % 200) + 1}`, dst: "10.0.0.1", dport: 22 + (i >> 3), state: "SYN_RECV", maxTimeout: 50 }));
    const udp = (n: number) =>
      rows(n, (i) => ({
        proto: "udp",
        src: `192.0.2.${(i % 200) + 1}`,
        dst: "10.0.0.1",
        dport: 5000 + (i >> 3),
        state: null,
        unreplied: true,
        maxTimeout: 25,
      }));
    const floods = (d: Diagnosis) => ids(d).filter((i) => i.includes("flood"));
    expect(floods(diagnose(buildSnapshot([...syn(256), ...udp(1000)]), null))).toEqual([
      "syn-flood:198.51.100.0/24",
      "udp-flood:192.0.2.0/24",
    ]);
    expect(floods(diagnose(buildSnapshot([...syn(255), ...udp(999)]), null))).toEqual([]);
  });

  it("a spoofed flood from many prefixes is reported on the target service", () => {
    const d = diagnose(
      buildSnapshot(
        rows(2000, (i) => ({ src: ipv4(11, i * 256 + 7), dst: "10.0.0.1", dport: 443, state: "SYN_RECV", count: 1, maxTimeout: 50 })),
      ),
      facts(2000, 2200),
    );
    const a = get(d, "syn-flood:tcp/443_on_10.0.0.1");
    expect(a.severity).toBe("critical");
    expect(a.evidence).toMatchObject({ half_open: 2000, prefixes: "16+" });
    expect(ids(d).filter((i) => i.startsWith("syn-flood"))).toEqual(["syn-flood:tcp/443_on_10.0.0.1"]);
  });

  it("a busy service's usual half-open entries are no flood: they must be half its entries or ten times the threshold", () => {
    // 300 half-open entries from 300 prefixes (over the threshold of 256) next to ESTABLISHED ones.
    const halfOpen = rows(300, (i) => ({ src: ipv4(11, i * 256 + 7), dst: "10.0.0.1", dport: 443, state: "SYN_RECV", maxTimeout: 50 }));
    const established = (n: number) =>
      rows(n, (i) => ({
        src: ipv4(60, i * 256 + 9),
        dst: "10.0.0.1",
        dport: 443,
        state: "ESTABLISHED",
        assured: true,
        maxTimeout: 400000,
      }));
    const flood = (d: ReturnType<typeof diagnose>) => ids(d).filter((i) => i.startsWith("syn-flood"));
    // 300 of 901 entries: less than half, so the service is just busy.
    expect(flood(diagnose(buildSnapshot([...halfOpen, ...established(601)]), null))).toEqual([]);
    // 300 of 600: half of them, a flood.
    expect(flood(diagnose(buildSnapshot([...halfOpen, ...established(300)]), null))).toEqual(["syn-flood:tcp/443_on_10.0.0.1"]);
  });

  it("a port scan: one source touching 300 ports", () => {
    const d = diagnose(
      buildSnapshot(rows(300, (i) => ({ src: "192.0.2.9", dst: "10.0.0.1", dport: i + 1, state: "CLOSE", count: 1, maxTimeout: 9 }))),
      null,
    );
    const a = get(d, "port-scan:192.0.2.9");
    expect(a.severity).toBe("warning");
    expect(a.evidence).toMatchObject({ distinct_ports: 300, entries: 300, sources: 1 });
    expect(ids(d)).toEqual(["port-scan:192.0.2.9"]);
  });

  it("a slow scan below the entry threshold is info; 99 ports is no scan", () => {
    const slow = diagnose(
      buildSnapshot(rows(120, (i) => ({ src: "192.0.2.9", dst: "10.0.0.1", dport: i + 1, state: "CLOSE", maxTimeout: 9 }))),
      null,
    );
    expect(get(slow, "port-scan:192.0.2.9").severity).toBe("info");
    const few = diagnose(
      buildSnapshot(rows(99, (i) => ({ src: "192.0.2.9", dst: "10.0.0.1", dport: i + 1, state: "CLOSE", maxTimeout: 9 }))),
      null,
    );
    expect(ids(few)).toEqual([]);
  });
});

describe("UDP floods and stateless services", () => {
  it("unreplied UDP from one source", () => {
    const d = diagnose(
      buildSnapshot([
        { src: "198.18.0.7", dst: "10.0.0.1", proto: "udp", dport: 9999, unreplied: true, count: 5000, maxTimeout: 29 },
        ...benignRows(),
      ]),
      null,
    );
    expect(get(d, "udp-flood:198.18.0.7").evidence).toMatchObject({ unreplied_udp: 5000, sources: 1 });
  });

  it("a distributed UDP flood to the DNS port is also a stateless-service finding", () => {
    const d = diagnose(
      buildSnapshot(
        rows(3000, (i) => ({ src: ipv4(12, i * 256 + 1), dst: "10.0.0.53", proto: "udp", dport: 53, unreplied: true, maxTimeout: 29 })),
      ),
      null,
    );
    expect(get(d, "udp-flood:udp/53_on_10.0.0.53").evidence).toMatchObject({ unreplied_udp: 3000, prefixes: "16+" });
    expect(get(d, "stateless-service:udp/53_server").evidence).toMatchObject({ entries: 3000, role: "server", families: "4" });
  });

  it("a busy DNS server (IPv4 and IPv6 clients) is a NOTRACK candidate; NATed DNS is not", () => {
    const dns = [
      ...rows(1500, (i) => ({ src: ipv4(100, i), dst: "10.0.0.53", proto: "udp", dport: 53, maxTimeout: 25 })),
      ...rows(500, (i) => ({ src: `2001:db8:5::${(i + 1).toString(16)}`, dst: "2001:db8::53", proto: "udp", dport: 53, maxTimeout: 25 })),
    ];
    const d = diagnose(buildSnapshot(dns), null);
    const a = get(d, "stateless-service:udp/53_server");
    expect(a.severity).toBe("info");
    expect(a.evidence).toMatchObject({ entries: 2000, families: "4,6", natted: 0 });
    const natted = diagnose(buildSnapshot(dns.map((r) => ({ ...r, nat: true }))), null);
    expect(ids(natted).filter((i) => i.startsWith("stateless"))).toEqual([]);
  });

  it("a resolver's outgoing queries are the client role; NTP too", () => {
    const d = diagnose(
      buildSnapshot([
        ...rows(1200, (i) => ({ src: "10.0.0.2", dst: ipv4(9, i), proto: "udp", dport: 53, remote: "dst" as const, maxTimeout: 25 })),
        ...rows(1100, (i) => ({ src: ipv4(100, i), dst: "10.0.0.2", proto: "udp", dport: 123, maxTimeout: 25 })),
      ]),
      null,
    );
    expect(get(d, "stateless-service:udp/53_client").evidence.role).toBe("client");
    expect(get(d, "stateless-service:udp/123_server").evidence.entries).toBe(1100);
  });

  it("web ports only on hosts without any NAT", () => {
    const web = rows(25000, (i) => ({ src: ipv4(100, i), dst: "10.0.0.1", dport: 443, maxTimeout: 431000 }));
    expect(ids(diagnose(buildSnapshot(web), null))).toContain("stateless-service:tcp/443_server");
    const withNat = [...web, { src: "10.0.0.1", dst: "192.0.2.1", dport: 80, remote: "dst" as const, nat: true }];
    expect(ids(diagnose(buildSnapshot(withNat), null)).filter((i) => i.startsWith("stateless"))).toEqual([]);
  });
});

describe("timeouts", () => {
  /** 5000 entries to one backend silent for 3+ days, 5000 fresh ones spread over 1000 remotes. */
  const idleRows = (): Row[] => [
    { src: "10.0.0.7", dst: "192.0.2.50", dport: 8080, remote: "dst", count: 5000, maxTimeout: 100000 },
    ...rows(1000, (i) => ({ src: "10.0.0.7", dst: ipv4(151, i), dport: 443, remote: "dst" as const, count: 5, maxTimeout: 431000 })),
  ];

  it("a 5-day established timeout holding idle entries, and the orphans' owner", () => {
    const d = diagnose(buildSnapshot(idleRows()), facts(10000, 262144, "net.netfilter.nf_conntrack_tcp_timeout_established = 432000\n"));
    expect(get(d, "long-established-timeout").evidence).toMatchObject({
      established_timeout_s: 432000,
      source: "sysctl",
      idle_over_target: 5000,
      idle_share_pct: 50,
      target_s: 86400,
    });
    expect(get(d, "long-established-timeout").severity).toBe("warning");
    const o = get(d, "orphaned-established");
    expect(o.subject).toBe("192.0.2.50 tcp/8080");
    expect(o.evidence).toMatchObject({ orphaned: 5000, top_remote: "192.0.2.50", top_entries: 5000, idle_over_s: 21600 });
  });

  it("inferred timeout works the same without sysctl", () => {
    const d = diagnose(buildSnapshot(idleRows()), null);
    expect(get(d, "long-established-timeout").evidence).toMatchObject({ established_timeout_s: 432000, source: "inferred" });
  });

  it("the Kubernetes 86400 s timeout is not flagged as long", () => {
    const d = diagnose(
      buildSnapshot(idleRows().map((r) => ({ ...r, maxTimeout: Math.min(r.maxTimeout ?? 0, 86000) - (r.count === 5000 ? 80000 : 0) }))),
      facts(10000, 262144, "net.netfilter.nf_conntrack_tcp_timeout_established = 86400\n"),
    );
    expect(ids(d)).not.toContain("long-established-timeout");
    // 6000 s remaining of 86400: idle 80400 s > 21600 s, still orphans.
    expect(get(d, "orphaned-established").evidence.orphaned).toBe(5000);
  });

  it("handshake-only ESTABLISHED entries count as orphans when accounting is on", () => {
    const snap = buildSnapshot(
      [
        { src: "10.0.0.7", dst: "192.0.2.51", dport: 9000, remote: "dst", count: 2000, packets: 6000, maxTimeout: 430000 },
        { src: "10.0.0.7", dst: "192.0.2.52", dport: 443, remote: "dst", count: 100, packets: 90000, maxTimeout: 431999 },
      ],
      { accounted: true },
    );
    const d = diagnose(snap, null);
    expect(get(d, "orphaned-established").evidence).toMatchObject({ orphaned: 2000, handshake_only: 2000, top_remote: "192.0.2.51" });
  });

  it("CLOSE_WAIT held an hour (kube-proxy)", () => {
    const d = diagnose(
      buildSnapshot(rows(1500, (i) => ({ src: ipv4(100, i), dst: "10.0.0.1", dport: 8443, state: "CLOSE_WAIT", maxTimeout: 3500 }))),
      null,
    );
    expect(get(d, "close-wait-timeout").evidence).toMatchObject({
      close_wait_entries: 1500,
      close_wait_timeout_s: 3500,
      kube_proxy: "yes",
      source: "inferred",
    });
  });
});

describe("table, hash chains and drops", () => {
  it("fill thresholds: 75% warning, 90% critical, below nothing", () => {
    expect(get(diagnose(null, facts(49152, 65536)), "table-full").severity).toBe("warning");
    expect(get(diagnose(null, facts(58982, 65536)), "table-full").severity).toBe("warning");
    expect(get(diagnose(null, facts(58983, 65536)), "table-full").severity).toBe("critical");
    expect(get(diagnose(null, facts(65536, 65536)), "table-full").title).toBe("Table at its max: 65,536 of 65,536 entries");
    expect(ids(diagnose(null, facts(49151, 65536)))).toEqual([]);
    expect(get(diagnose(null, facts(49151, 65536), { fillWarningPct: 70 }), "table-full").evidence).toMatchObject({
      count: 49151,
      max: 65536,
      fill_pct: 74.9,
    });
  });

  it("effective fill in the evidence when the table is known", () => {
    const snap = buildSnapshot([
      { src: "198.51.100.1", dst: "10.0.0.1", count: 500 },
      { src: "198.51.100.2", dst: "10.0.0.1", proto: "udp", dport: 9, unreplied: true, count: 500 },
    ]);
    const a = get(diagnose(snap, facts(60000, 65536)), "table-full");
    expect(a.evidence).toMatchObject({ fill_pct: 91.5, effective_fill_pct: 45.8, unreplied: 30000 });
  });

  it("deep hash chains, chaintoolong, and the info at max", () => {
    const deep = collectHostFactsFromTexts({
      sysctl:
        "net.netfilter.nf_conntrack_count = 200000\nnet.netfilter.nf_conntrack_max = 262144\nnet.netfilter.nf_conntrack_buckets = 16384\n",
    });
    expect(get(diagnose(null, deep), "hash-chains")).toMatchObject({
      severity: "warning",
      evidence: { avg_chain: 12.2, avg_chain_at_max: 16 },
    });
    const atMax = collectHostFactsFromTexts({
      sysctl:
        "net.netfilter.nf_conntrack_count = 1000\nnet.netfilter.nf_conntrack_max = 262144\nnet.netfilter.nf_conntrack_buckets = 16384\n",
    });
    expect(get(diagnose(null, atMax), "hash-chains").severity).toBe("info");
    const tooLong = collectHostFactsFromTexts({
      sysctl: "net.netfilter.nf_conntrack_count = 10\nnet.netfilter.nf_conntrack_max = 1024\nnet.netfilter.nf_conntrack_buckets = 1024\n",
      stats: "cpu=0 found=0 chaintoolong=3\n",
    });
    expect(get(diagnose(null, tooLong), "hash-chains")).toMatchObject({ severity: "warning", evidence: { chaintoolong: 3 } });
  });

  it("drops: counters are a warning, a recent kernel log critical, insert_failed alone info", () => {
    const counters = collectHostFactsFromTexts({ stats: "cpu=0 drop=5 early_drop=2 insert_failed=5\n" });
    expect(get(diagnose(null, counters), "drops")).toMatchObject({
      severity: "warning",
      evidence: { drop: 5, early_drop: 2, insert_failed: 5 },
    });
    const log = collectHostFactsFromTexts({
      kernelLog: "[ 100.0] nf_conntrack: table full, dropping packet\n[ 160.0] nf_conntrack: table full, dropping packet\n",
    });
    expect(get(diagnose(null, log), "drops").severity).toBe("warning");
    log.kernelLog!.lastAgeSeconds = 30;
    const recent = diagnose(null, log);
    expect(get(recent, "drops")).toMatchObject({
      severity: "critical",
      evidence: { log_table_full: 2, log_estimated_drops: 2, log_per_minute: 2, log_netns: "init:2", log_last_age_s: 30 },
    });
    log.kernelLog!.lastAgeSeconds = 7200;
    expect(get(diagnose(null, log), "drops").severity).toBe("warning");
    const clash = collectHostFactsFromTexts({ stats: "cpu=0 drop=0 early_drop=0 insert_failed=9\n" });
    expect(get(diagnose(null, clash), "drops").severity).toBe("info");
    expect(ids(diagnose(null, counters, { dropsMin: 0 }))).toEqual(["drops"]);
    expect(get(diagnose(null, counters, { dropsMin: 0 }), "drops").severity).toBe("info");
  });

  it("kernel-log messages about other network namespaces never make this one critical", () => {
    const text =
      "[ 100.0] nf_conntrack: nf_conntrack: table full in netns 4026532246, dropping packet\n[ 101.0] nf_conntrack: nf_conntrack: table full in netns 4026532246, dropping packet\n";
    const f = collectHostFactsFromTexts({ kernelLog: text });
    f.netns = "4026531833";
    f.netnsIsInit = true;
    f.kernelLog!.lastAgeSeconds = 5;
    const other = get(diagnose(null, f), "drops");
    expect(other.severity).toBe("warning");
    expect(other.title).toMatch(
      /^Other network namespaces dropped packets for a full table: 2 "table full" kernel messages \(2 in other network namespaces\)/,
    );
    expect(other.evidence).toMatchObject({ log_table_full: 2, log_other_netns: 2, log_netns: "4026532246:2" });
    // The same messages seen from inside that namespace are its own.
    f.netns = "4026532246";
    f.netnsIsInit = false;
    expect(get(diagnose(null, f), "drops").severity).toBe("critical");
    // Offline logs (no namespace known): every message counts.
    const offline = collectHostFactsFromTexts({ kernelLog: text });
    offline.kernelLog!.lastAgeSeconds = 5;
    expect(get(diagnose(null, offline), "drops").severity).toBe("critical");
  });

  it("thresholds that contradict each other are a usage error", () => {
    expect(() => diagnose(null, null, { fillWarningPct: 95, fillCriticalPct: 90 })).toThrow(/must not be above/);
  });
});

function r1(n: number): number {
  return Math.round(n * 10) / 10;
}
