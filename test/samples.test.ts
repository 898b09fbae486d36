/**
 * Real-world samples (../shared/samples, not part of the repo): every file parsed with the exact
 * counts determined by reading it. Non-table files (stats, logs, pretty-printed XML) must be
 * malformed line by line, never fatal. Skipped, with the reason printed, when the folder is absent.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { analyzeFiles, counts, flagCounts, hist, states, top } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";
import { ROOT } from "./helpers/cli.js";

const SAMPLES = join(ROOT, "..", "shared", "samples");
const present = existsSync(SAMPLES);
if (!present) console.log(`samples: ${SAMPLES} not found, real-sample checks skipped`);

interface Expect {
  lines: number;
  entries?: number;
  malformed?: number;
  blank?: number;
  ignored?: number;
  destroyed?: number;
  events?: number;
  accounted?: number;
  forms?: { l3: number; plain: number; xml: number };
}

const none = { l3: 0, plain: 0, xml: 0 };
/** Every sample and what it holds (SOURCES.txt describes them). */
const EXPECTED: Record<string, Expect> = {
  "cnamejj-PyProc_ip_conntrack.txt": { lines: 16, entries: 16, forms: { l3: 0, plain: 16, xml: 0 } },
  "cnamejj-PyProc_nf_conntrack.txt": { lines: 20, entries: 20, forms: { l3: 20, plain: 0, xml: 0 } },
  // /proc/net/stat/* and conntrack -S: not conntrack tables, every line malformed.
  "cnamejj-PyProc_stat-ip_conntrack.txt": { lines: 9, malformed: 9 },
  "cnamejj-PyProc_stat-nf_conntrack.txt": { lines: 9, malformed: 9 },
  "netdata-netdata_issue161_proc-net-stat-nf_conntrack.txt": { lines: 4, malformed: 4 },
  "prometheus-node_exporter_fixtures-proc-net-stat-nf_conntrack.txt": { lines: 5, malformed: 5 },
  "influxdata-telegraf_issue8955_conntrack-S.txt": { lines: 8, malformed: 8 },
  "jwkohnen-conntrack-stats-exporter_conntrack-S_16cpu.txt": { lines: 16, malformed: 16 },
  // Annotations, conntrack -S rows, an event with anonymised addresses (ip1/ip2), a stat header.
  "google-nftables_issue138_kernel5.10_conntrack-S_and_stat-header.txt": { lines: 11, malformed: 9, blank: 2 },
  // A debug log line: "event=update" precedes the conntrack text.
  "hiveco-conntrack_exporter_issue20_debug-line.txt": { lines: 2, malformed: 2 },
  "kellyjonbrazil-jc_issue646_conntrack-E.txt": { lines: 7, entries: 7, events: 7, forms: { l3: 0, plain: 7, xml: 0 } },
  // Headings and prompts are malformed, two trailers ignored, "//icmp ..." (a C comment) malformed.
  "misc-real-pastes_conntrack-L-icmp-with-summary.txt": {
    lines: 10,
    entries: 2,
    malformed: 6,
    ignored: 2,
    accounted: 1,
    forms: { l3: 0, plain: 2, xml: 0 },
  },
  "netfilter-devel-archive_2022-flowtable-teardown_conntrack-E-offload.txt": {
    lines: 5,
    entries: 4,
    destroyed: 1,
    events: 4,
    forms: { l3: 0, plain: 5, xml: 0 },
  },
  "netfilter-devel-archive_fw-2025-04-16_proc-nf_conntrack-ipv6.txt": { lines: 1, entries: 1, forms: { l3: 1, plain: 0, xml: 0 } },
  // Pretty-printed by the test author: conntrack prints one <flow> per line, so every line is malformed.
  "turris-cz-pakon_tests-unit-conftest_xml-events.txt": { lines: 122, malformed: 122 },
  // Shell prompts and an nf_conntrack_expect line are malformed; the vendor GRE form parses.
  "unknown-repo_id11225944374_proc-nf_conntrack-gre-pptp.txt": {
    lines: 8,
    entries: 2,
    malformed: 4,
    blank: 2,
    forms: { l3: 2, plain: 0, xml: 0 },
  },
  "weaveworks-scope_probe-endpoint-conntrack_internal_test_E-o-id.txt": {
    lines: 4,
    entries: 3,
    destroyed: 1,
    events: 3,
    forms: { l3: 0, plain: 4, xml: 0 },
  },
  "weaveworks-scope_probe-endpoint-conntrack_internal_test_L-o-id.txt": {
    lines: 3,
    entries: 3,
    accounted: 1,
    forms: { l3: 0, plain: 3, xml: 0 },
  },
  "yuuki-lsconntrack_conntrack_test-lines.txt": { lines: 2, entries: 2, accounted: 2, forms: { l3: 0, plain: 2, xml: 0 } },
};

const files = present ? readdirSync(SAMPLES).filter((f) => f !== "SOURCES.txt" && !f.startsWith(".")) : [];
const path = (name: string) => join(SAMPLES, name);

describe.skipIf(!present).each(BACKENDS)("real samples (%s backend)", (backend) => {
  it.each(files)("%s", async (name) => {
    const s = await analyzeFiles([path(name)], backend);
    // Whatever the file, every line has exactly one outcome.
    expect(s.entries + s.malformed + s.blank + s.ignored + s.destroyed + s.filtered).toBe(s.lines);
    const e = EXPECTED[name];
    if (!e) {
      console.log(`samples: ${name} is new: only the line accounting was checked`);
      return;
    }
    expect(counts(s)).toEqual({
      lines: e.lines,
      entries: e.entries ?? 0,
      malformed: e.malformed ?? 0,
      blank: e.blank ?? 0,
      ignored: e.ignored ?? 0,
      destroyed: e.destroyed ?? 0,
      filtered: 0,
      events: e.events ?? 0,
      accounted: e.accounted ?? 0,
    });
    expect(s.forms).toEqual(e.forms ?? none);
  });

  it("every expected sample is present", () => {
    expect(files.filter((f) => EXPECTED[f]).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it("PyProc ip_conntrack: IMAP and SSH of one workstation", async () => {
    const s = await analyzeFiles([path("cnamejj-PyProc_ip_conntrack.txt")], backend);
    expect(states(s)).toEqual({ "tcp ESTABLISHED": 14, "udp -": 2 });
    expect(flagCounts(s)).toEqual({ unreplied: 1, assured: 14, offloaded: 0, natted: 0 });
    expect(hist(s.timeouts)).toEqual({ 10: 2, 345600: 14 });
    expect(hist(s.established_timeouts)).toEqual({ 345600: 14 });
    expect(top(s, "service")).toEqual({
      "tcp 173.201.192.71:993": 5,
      "tcp 74.125.25.16:993": 4,
      "tcp 173.194.65.108:993": 2,
      "tcp 192.168.1.14:22": 2,
      "tcp 64.26.60.229:993": 1,
      "udp 127.0.0.1:53": 1,
      "udp 192.168.1.14:514": 1,
    });
    expect(s.local.addresses[0]).toBe("192.168.1.14");
  });

  it("PyProc nf_conntrack: the same host in /proc form", async () => {
    const s = await analyzeFiles([path("cnamejj-PyProc_nf_conntrack.txt")], backend);
    expect(states(s)).toEqual({ "tcp ESTABLISHED": 15, "tcp TIME_WAIT": 1, "udp -": 4 });
    expect(flagCounts(s)).toEqual({ unreplied: 1, assured: 16, offloaded: 0, natted: 0 });
    expect(hist(s.timeouts)).toEqual({ 0: 1, 10: 4, 345600: 15 });
  });

  it("jc #646 conntrack -E: an IGMP entry as 'unknown 2' without ports", async () => {
    const s = await analyzeFiles([path("kellyjonbrazil-jc_issue646_conntrack-E.txt")], backend);
    expect(states(s)).toEqual({
      "unknown(2) -": 1,
      "udp -": 2,
      "tcp SYN_SENT": 1,
      "tcp SYN_RECV": 1,
      "tcp ESTABLISHED": 1,
      "tcp FIN_WAIT": 1,
    });
    expect(top(s, "service")).toEqual({ "tcp 91.189.91.48:80": 4, "udp 8.8.8.8:53": 2, "unknown(2) 224.0.0.22": 1 });
    expect(flagCounts(s)).toEqual({ unreplied: 3, assured: 2, offloaded: 0, natted: 0 });
  });

  it("pasted conntrack -L: ICMP with a NAT'd reply, accounting, trailers", async () => {
    const s = await analyzeFiles([path("misc-real-pastes_conntrack-L-icmp-with-summary.txt")], backend);
    expect(flagCounts(s)).toEqual({ unreplied: 0, assured: 0, offloaded: 0, natted: 1 });
    expect(top(s, "service")).toEqual({ "icmp 100.64.0.10": 1, "icmp 222.195.90.107": 1 });
    expect(s.top.service.find((r) => r.key === "icmp 222.195.90.107")).toMatchObject({ packets: 216, bytes: 18144 });
    expect(s.malformed_samples.map((m) => m.line)).toEqual([1, 2, 5, 6, 9, 10]);
  });

  it("flowtable teardown events: [OFFLOAD] updates, a DESTROY without timeout", async () => {
    const s = await analyzeFiles([path("netfilter-devel-archive_2022-flowtable-teardown_conntrack-E-offload.txt")], backend);
    expect(flagCounts(s)).toEqual({ unreplied: 1, assured: 0, offloaded: 2, natted: 0 });
    expect(states(s)).toEqual({ "tcp SYN_SENT": 1, "tcp SYN_RECV": 1, "tcp ESTABLISHED": 1, "tcp FIN_WAIT": 1 });
    expect(hist(s.timeouts)).toEqual({ 60: 2, 43200: 1, 345600: 1 });
  });

  it("/proc IPv6 line from a 6.x kernel: expanded addresses become compressed keys", async () => {
    const s = await analyzeFiles([path("netfilter-devel-archive_fw-2025-04-16_proc-nf_conntrack-ipv6.txt")], backend);
    expect(top(s, "service")).toEqual({ "tcp [2001:db8:ffff:22::1]:10001": 1 });
    expect(top(s, "src")).toEqual({ "2001:db8:ffff:21::2": 1 });
    expect(top(s, "src_prefix")).toEqual({ "2001:db8:ffff:21::/64": 1 });
  });

  it("vendor GRE (PPTP) entries: timeout=600, stream_timeout=18000 form, both NAT'd", async () => {
    const s = await analyzeFiles([path("unknown-repo_id11225944374_proc-nf_conntrack-gre-pptp.txt")], backend);
    expect(top(s, "service")).toEqual({ "gre 192.168.13.152": 1, "tcp 192.168.13.152:1723": 1 });
    expect(flagCounts(s)).toEqual({ unreplied: 0, assured: 2, offloaded: 0, natted: 2 });
    expect(hist(s.timeouts)).toEqual({ 600: 1, 7200: 1 });
  });

  it("weaveworks -o id: secctx= and id= ignored, one entry with accounting", async () => {
    const s = await analyzeFiles([path("weaveworks-scope_probe-endpoint-conntrack_internal_test_L-o-id.txt")], backend);
    expect(top(s, "service")).toEqual({ "tcp 10.0.2.15:22": 1, "tcp 172.17.0.2:80": 1, "tcp 216.58.213.227:443": 1 });
    expect(s.top.service.find((r) => r.port === 443)).toMatchObject({ packets: 19, bytes: 2053 });
  });

  it("yuuki lsconntrack: secmark= (old kernels) and an UNREPLIED ESTABLISHED entry", async () => {
    const s = await analyzeFiles([path("yuuki-lsconntrack_conntrack_test-lines.txt")], backend);
    expect(states(s)).toEqual({ "tcp ESTABLISHED": 1, "tcp CLOSE": 1 });
    expect(flagCounts(s)).toEqual({ unreplied: 1, assured: 1, offloaded: 0, natted: 0 });
    expect(top(s, "service")).toEqual({ "tcp 10.0.0.2:38205": 1, "tcp 10.0.0.11:443": 1 });
  });
});
