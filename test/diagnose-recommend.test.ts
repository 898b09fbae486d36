import { describe, expect, it } from "vitest";
import {
  connlimitCommands,
  dropSourceCommands,
  hashsizeCommands,
  notrackCommands,
  safeAddress,
  safeCidr,
  safePort,
  sysctlCommands,
} from "../src/diagnose/commands.js";
import { collectHostFactsFromTexts } from "../src/diagnose/hostfacts.js";
import { type Diagnosis, diagnose } from "../src/diagnose/index.js";
import { buildSnapshot, ipv4, rows } from "./helpers/snapshot-builder.js";

const facts = (sysctl: string) => collectHostFactsFromTexts({ sysctl });
const rec = (d: Diagnosis, id: string) => {
  const r = d.recommendations.find((x) => x.id === id);
  if (!r) throw new Error(`no recommendation ${id} in ${d.recommendations.map((x) => x.id).join(", ")}`);
  return r;
};
const RAW = "{ type filter hook prerouting priority raw; policy accept; }";
const RAW_OUT = "{ type filter hook output priority raw; policy accept; }";

describe("validation of every inserted value", () => {
  it("addresses are re-formatted canonically, anything else refused", () => {
    expect(safeAddress("2001:0db8:0000:0000:0000:0000:0000:0050")).toEqual({ addr: "2001:db8::50", family: 6 });
    expect(safeAddress("192.0.2.1")).toEqual({ addr: "192.0.2.1", family: 4 });
    for (const bad of ["192.0.2.1; reboot", "$(id)", "192.0.2.256", "", "192.0.2.1 -j ACCEPT", "::ffff:1.2.3.4/0"])
      expect(safeAddress(bad)).toBeNull();
  });

  it("prefixes are masked to their network; bad lengths refused", () => {
    expect(safeCidr("203.0.113.77/24")).toEqual({ cidr: "203.0.113.0/24", text: "203.0.113.0/24", family: 4 });
    expect(safeCidr("2001:db8:1:2:3:4:5:6/64")).toEqual({ cidr: "2001:db8:1:2::/64", text: "2001:db8:1:2::/64", family: 6 });
    expect(safeCidr("203.0.113.7")).toEqual({ cidr: "203.0.113.7/32", text: "203.0.113.7", family: 4 });
    expect(safeCidr("203.0.113.7/12")?.cidr).toBe("203.0.0.0/12");
    for (const bad of ["203.0.113.0/33", "2001:db8::/129", "203.0.113.0/-1", "203.0.113.0/24 ", "203.0.113.0/2a"])
      expect(safeCidr(bad)).toBeNull();
  });

  it("ports, counts, protocols and sysctl names are checked", () => {
    expect([safePort(53), safePort(0), safePort(65536), safePort(1.5), safePort(Number.NaN)]).toEqual([53, null, null, null, null]);
    expect(sysctlCommands("nf_conntrack_max", 0)).toBeNull();
    expect(sysctlCommands("nf_conntrack_max", 1.5)).toBeNull();
    expect(sysctlCommands("nf_conntrack_max; reboot", 5)).toBeNull();
    expect(sysctlCommands("kernel.panic", 5)).toBeNull();
    expect(hashsizeCommands(-4)).toBeNull();
    expect(notrackCommands("udp; reboot", 53, "server", [4])).toBeNull();
    expect(notrackCommands("icmp", 53, "server", [4])).toBeNull();
    expect(notrackCommands("udp", 70000, "server", [4])).toBeNull();
    expect(dropSourceCommands("10.0.0.0/33")).toBeNull();
    expect(connlimitCommands("10.0.0.1", "tcp", 443, "incoming", 0)).toBeNull();
  });

  it("a hostile address in the table never reaches a command", () => {
    // The builder takes the destination text as it is: the table here holds a hostile "address".
    const snap = buildSnapshot([{ src: "10.0.0.5", dst: "192.0.2.80; rm -rf /", dport: 8080, remote: "dst", count: 5000 }]);
    const d = diagnose(snap, null);
    expect(d.anomalies.map((a) => a.id)).toEqual(["dominant-remote:192.0.2.80;_rm_-rf_/_tcp/8080"]);
    expect(d.recommendations).toEqual([]);
  });
});

describe("recommendations computed from the data", () => {
  it("table near max: raise nf_conntrack_max to keep the count at 50%, and the hashsize with it", () => {
    const d = diagnose(
      null,
      facts(
        "net.netfilter.nf_conntrack_count = 62000\nnet.netfilter.nf_conntrack_max = 65536\nnet.netfilter.nf_conntrack_buckets = 16384\n",
      ),
    );
    const r = rec(d, "raise-max");
    expect(r.anomaly).toBe("table-full");
    expect(r.commands).toEqual([
      "sysctl -w net.netfilter.nf_conntrack_max=131072",
      "echo 'net.netfilter.nf_conntrack_max = 131072' >> /etc/sysctl.d/90-conntrack.conf",
      "echo 32768 > /sys/module/nf_conntrack/parameters/hashsize",
      "echo 'options nf_conntrack hashsize=32768' > /etc/modprobe.d/90-conntrack-hashsize.conf",
    ]);
    expect(r.explanation).toContain("about 42.2 MB");
  });

  it("deep chains: resize the hash table for the recommended max", () => {
    const d = diagnose(
      null,
      facts(
        "net.netfilter.nf_conntrack_count = 200000\nnet.netfilter.nf_conntrack_max = 262144\nnet.netfilter.nf_conntrack_buckets = 16384\n",
      ),
    );
    expect(rec(d, "resize-hash").commands).toEqual([
      "echo 131072 > /sys/module/nf_conntrack/parameters/hashsize",
      "echo 'options nf_conntrack hashsize=131072' > /etc/modprobe.d/90-conntrack-hashsize.conf",
    ]);
    expect(rec(d, "raise-max").commands[0]).toBe("sysctl -w net.netfilter.nf_conntrack_max=458752");
  });

  it("field case: inspect the remote and cap it at the ratio × median", () => {
    const snap = buildSnapshot([
      { src: "10.0.0.5", dst: "142.250.1.188", dport: 5228, remote: "dst", count: 52000 },
      ...rows(300, (i) => ({ src: "10.0.0.5", dst: ipv4(151, i * 3), dport: 443, remote: "dst" as const, count: 10 })),
    ]);
    const r = rec(diagnose(snap, null), "inspect-remote:142.250.1.188_tcp/5228");
    expect(r.commands).toEqual([
      "conntrack -L -f ipv4 --dst 142.250.1.188 -p tcp --dport 5228 | head -n 20",
      "iptables -I OUTPUT -p tcp -d 142.250.1.188 --dport 5228 -m connlimit --connlimit-above 500 --connlimit-daddr --connlimit-mask 32 -j REJECT --reject-with tcp-reset",
      "nft add table inet ctscope",
      "nft 'add chain inet ctscope output { type filter hook output priority filter; policy accept; }'",
      "nft add rule inet ctscope output ip daddr 142.250.1.188 tcp dport 5228 ct count over 500 reject with tcp reset",
    ]);
  });

  it("an incoming IPv6 remote: ip6tables, --src, connlimit-saddr, canonical address", () => {
    const snap = buildSnapshot([
      { src: "2001:db8:9::50", dst: "2001:db8::1", dport: 25, count: 8000 },
      ...rows(100, (i) => ({ src: `2001:db8:7::${(i + 1).toString(16)}`, dst: "2001:db8::1", dport: 25, count: 3 })),
    ]);
    // The snapshot's text is canonical already; the validator would re-format a fully expanded one.
    for (const c of snap.classes) if (c.src === "2001:db8:9::50") c.remote = c.src = "2001:0db8:0009:0000:0000:0000:0000:0050";
    const d = diagnose(snap, null);
    const r = d.recommendations.find((x) => x.id.startsWith("inspect-remote:"))!;
    expect(r.commands).toEqual([
      "conntrack -L -f ipv6 --src 2001:db8:9::50 -p tcp --dport 25 | head -n 20",
      "ip6tables -I INPUT -p tcp -s 2001:db8:9::50 --dport 25 -m connlimit --connlimit-above 150 --connlimit-saddr --connlimit-mask 128 -j REJECT --reject-with tcp-reset",
      "nft add table inet ctscope",
      "nft 'add chain inet ctscope input { type filter hook input priority filter; policy accept; }'",
      "nft add rule inet ctscope input ip6 saddr 2001:db8:9::50 tcp dport 25 ct count over 150 reject with tcp reset",
    ]);
  });

  it("SYN flood from a source and from an IPv6 /64: raw-table drop rules", () => {
    const snap = buildSnapshot([
      { src: "203.0.113.66", dst: "10.0.0.1", dport: 80, state: "SYN_RECV", count: 3000, maxTimeout: 59 },
      ...rows(40, (i) => ({
        src: `2001:db8:1:2::${(i + 1).toString(16)}`,
        dst: "2001:db8::1",
        dport: 22,
        state: "SYN_SENT",
        unreplied: true,
        count: 10,
        maxTimeout: 100,
      })),
    ]);
    const d = diagnose(snap, null);
    expect(rec(d, "drop-source:203.0.113.66").commands).toEqual([
      "iptables -t raw -I PREROUTING -s 203.0.113.66 -j DROP",
      "nft add table inet ctscope",
      `nft 'add chain inet ctscope raw_prerouting ${RAW}'`,
      "nft add rule inet ctscope raw_prerouting ip saddr 203.0.113.66 drop",
    ]);
    // 3000 half-open entries held 60 s: about 50 new per second; the limit keeps a tenth.
    const limit = rec(d, "limit-source:203.0.113.66");
    expect(limit.anomaly).toBe("syn-flood:203.0.113.66");
    expect(limit.commands[0]).toMatch(
      /^iptables -I INPUT -s 203\.0\.113\.66 -m conntrack --ctstate NEW -m hashlimit --hashlimit-mode srcip --hashlimit-srcmask 32 --hashlimit-above 5\/second --hashlimit-burst 10 --hashlimit-name ctscope-[0-9a-f]{6} -j DROP$/,
    );
    expect(limit.commands.slice(1)).toEqual([
      "nft add table inet ctscope",
      "nft 'add chain inet ctscope input { type filter hook input priority filter; policy accept; }'",
      "nft add rule inet ctscope input ip saddr 203.0.113.66 ct state new limit rate over 5/second burst 10 packets drop",
    ]);
    expect(rec(d, "limit-source:2001:db8:1:2::/64").commands[0]).toContain("ip6tables -I INPUT -s 2001:db8:1:2::/64 ");
    expect(rec(d, "limit-source:2001:db8:1:2::/64").commands[0]).toContain("--hashlimit-srcmask 64 --hashlimit-above 1/second");
    expect(rec(d, "drop-source:2001:db8:1:2::/64").commands).toEqual([
      "ip6tables -t raw -I PREROUTING -s 2001:db8:1:2::/64 -j DROP",
      "nft add table inet ctscope",
      `nft 'add chain inet ctscope raw_prerouting ${RAW}'`,
      "nft add rule inet ctscope raw_prerouting ip6 saddr 2001:db8:1:2::/64 drop",
    ]);
    expect(rec(d, "drop-source:2001:db8:1:2::/64").anomaly).toBe("syn-flood:2001:db8:1:2::/64");
  });

  it("spoofed SYN flood: SYNPROXY for the port, shorter SYN_RECV timeout from the current one", () => {
    const snap = buildSnapshot(
      rows(2000, (i) => ({ src: ipv4(11, i * 256 + 7), dst: "10.0.0.1", dport: 443, state: "SYN_RECV", maxTimeout: 50 })),
    );
    const r = rec(diagnose(snap, facts("net.netfilter.nf_conntrack_tcp_timeout_syn_recv = 60\n")), "synproxy:tcp/443");
    expect(r.commands).toEqual([
      "iptables -t raw -I PREROUTING -p tcp --dport 443 --syn -j CT --notrack",
      "iptables -I INPUT -p tcp --dport 443 -m conntrack --ctstate INVALID,UNTRACKED -j SYNPROXY --sack-perm --timestamp --wscale 7 --mss 1460",
      "iptables -I INPUT 2 -p tcp --dport 443 -m conntrack --ctstate INVALID -j DROP",
      "sysctl -w net.netfilter.nf_conntrack_tcp_loose=0",
      "echo 'net.netfilter.nf_conntrack_tcp_loose = 0' >> /etc/sysctl.d/90-conntrack.conf",
      "sysctl -w net.netfilter.nf_conntrack_tcp_timeout_syn_recv=30",
      "echo 'net.netfilter.nf_conntrack_tcp_timeout_syn_recv = 30' >> /etc/sysctl.d/90-conntrack.conf",
    ]);
  });

  it("DNS server over IPv4 and IPv6: NOTRACK both directions, ip6tables, nft, accept UNTRACKED", () => {
    const snap = buildSnapshot([
      ...rows(1500, (i) => ({ src: ipv4(100, i), dst: "10.0.0.53", proto: "udp", dport: 53, maxTimeout: 25 })),
      ...rows(500, (i) => ({ src: `2001:db8:5::${(i + 1).toString(16)}`, dst: "2001:db8::53", proto: "udp", dport: 53, maxTimeout: 25 })),
    ]);
    const r = rec(diagnose(snap, null), "notrack:udp/53_server");
    expect(r.commands).toEqual([
      "iptables -t raw -A PREROUTING -p udp --dport 53 -j NOTRACK",
      "iptables -t raw -A OUTPUT -p udp --sport 53 -j NOTRACK",
      "ip6tables -t raw -A PREROUTING -p udp --dport 53 -j NOTRACK",
      "ip6tables -t raw -A OUTPUT -p udp --sport 53 -j NOTRACK",
      "iptables -I INPUT -p udp --dport 53 -m conntrack --ctstate UNTRACKED -j ACCEPT",
      "iptables -I OUTPUT -p udp --sport 53 -m conntrack --ctstate UNTRACKED -j ACCEPT",
      "ip6tables -I INPUT -p udp --dport 53 -m conntrack --ctstate UNTRACKED -j ACCEPT",
      "ip6tables -I OUTPUT -p udp --sport 53 -m conntrack --ctstate UNTRACKED -j ACCEPT",
      "nft add table inet ctscope",
      `nft 'add chain inet ctscope raw_prerouting ${RAW}'`,
      "nft add rule inet ctscope raw_prerouting udp dport 53 notrack",
      `nft 'add chain inet ctscope raw_output ${RAW_OUT}'`,
      "nft add rule inet ctscope raw_output udp sport 53 notrack",
    ]);
    expect(r.explanation).toMatch(/UNTRACKED/);
  });

  it("a resolver's outgoing queries: the reverse directions", () => {
    const snap = buildSnapshot(
      rows(1200, (i) => ({ src: "10.0.0.2", dst: ipv4(9, i), proto: "udp", dport: 53, remote: "dst" as const, maxTimeout: 25 })),
    );
    expect(rec(diagnose(snap, null), "notrack:udp/53_client").commands.slice(0, 2)).toEqual([
      "iptables -t raw -A PREROUTING -p udp --sport 53 -j NOTRACK",
      "iptables -t raw -A OUTPUT -p udp --dport 53 -j NOTRACK",
    ]);
  });

  it("timeouts: established to the target, CLOSE_WAIT back to 60 s, UDP a third of the current", () => {
    const idle = buildSnapshot([
      { src: "10.0.0.7", dst: "192.0.2.50", dport: 8080, remote: "dst", count: 5000, maxTimeout: 100000 },
      ...rows(1500, (i) => ({ src: ipv4(100, i), dst: "10.0.0.1", dport: 8443, state: "CLOSE_WAIT", maxTimeout: 3500 })),
      ...rows(3000, (i) => ({ src: ipv4(12, i * 256 + 1), dst: "10.0.0.9", proto: "udp", dport: 5000, unreplied: true, maxTimeout: 29 })),
    ]);
    const d = diagnose(idle, facts("net.netfilter.nf_conntrack_udp_timeout = 30\n"), { establishedTimeoutTarget: 7200 });
    expect(rec(d, "established-timeout").commands).toEqual([
      "sysctl -w net.netfilter.nf_conntrack_tcp_timeout_established=7200",
      "echo 'net.netfilter.nf_conntrack_tcp_timeout_established = 7200' >> /etc/sysctl.d/90-conntrack.conf",
    ]);
    expect(rec(d, "close-wait-timeout").commands[0]).toBe("sysctl -w net.netfilter.nf_conntrack_tcp_timeout_close_wait=60");
    expect(rec(d, "udp-timeout").commands[0]).toBe("sysctl -w net.netfilter.nf_conntrack_udp_timeout=10");
    expect(rec(d, "clear-orphans:192.0.2.50_tcp/8080").commands).toEqual([
      "conntrack -L -f ipv4 --dst 192.0.2.50 -p tcp --dport 8080 | head -n 20",
      "conntrack -D -f ipv4 -p tcp --dst 192.0.2.50 --dport 8080 --state ESTABLISHED",
    ]);
  });

  it("every command starts with a known program; recommendations point at existing anomalies", () => {
    const snap = buildSnapshot([
      { src: "10.0.0.5", dst: "142.250.1.188", dport: 5228, remote: "dst", count: 52000, maxTimeout: 431000 },
      { src: "203.0.113.66", dst: "10.0.0.5", dport: 80, state: "SYN_RECV", count: 3000, maxTimeout: 59 },
      { src: "10.0.0.7", dst: "192.0.2.50", dport: 8080, remote: "dst", count: 5000, maxTimeout: 100000 },
      ...rows(1500, (i) => ({ src: ipv4(100, i), dst: "10.0.0.53", proto: "udp", dport: 53, maxTimeout: 25 })),
    ]);
    const d = diagnose(
      snap,
      facts(
        "net.netfilter.nf_conntrack_count = 62000\nnet.netfilter.nf_conntrack_max = 65536\nnet.netfilter.nf_conntrack_buckets = 4096\n",
      ),
    );
    expect(d.recommendations.length).toBeGreaterThanOrEqual(6);
    const anomalyIds = new Set(d.anomalies.map((a) => a.id));
    for (const r of d.recommendations) {
      expect(anomalyIds.has(r.anomaly)).toBe(true);
      for (const c of r.commands) expect(c).toMatch(/^(?:iptables|ip6tables|nft|sysctl|echo|conntrack) /);
    }
    expect(new Set(d.recommendations.map((r) => r.id)).size).toBe(d.recommendations.length);
  });
});
