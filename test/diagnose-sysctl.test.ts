import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { collectHostFactsFromTexts } from "../src/diagnose/hostfacts.js";
import { conntrackTimeouts, normalizeSysctlKey, parseSysctl } from "../src/diagnose/sysctl.js";
import { InputError } from "../src/errors.js";

const fx = (name: string) => readFileSync(new URL(`fixtures/diagnose/${name}`, import.meta.url), "latin1");

describe("parseSysctl", () => {
  it("reads sysctl -a output, skipping sysctl's own error lines", () => {
    const s = parseSysctl(fx("sysctl-a.txt"));
    expect(Object.keys(s)).toHaveLength(16);
    expect(s["net.netfilter.nf_conntrack_max"]).toBe("65536");
    expect(s["net.ipv4.tcp_rmem"]).toBe("4096\t131072\t6291456");
    expect(s["kernel.arch"]).toBe("x86_64");
  });

  it("reads KEY=VALUE lines with comments and sysctl.conf's leading '-'", () => {
    const s = parseSysctl(fx("sysctl-kv.txt"));
    expect(s).toEqual({
      "net.netfilter.nf_conntrack_max": "262144",
      "net.netfilter.nf_conntrack_count": "1234",
      "net.netfilter.nf_conntrack_buckets": "262144",
      "net.netfilter.nf_conntrack_tcp_timeout_established": "86400",
      "net.netfilter.nf_conntrack_udp_timeout": "10",
    });
  });

  it("reads slash keys and grep-style path:value lines; dots inside slash names stay one component", () => {
    const s = parseSysctl(fx("sysctl-slash.txt"));
    expect(s).toEqual({
      "net.netfilter.nf_conntrack_max": "131072",
      "net.netfilter.nf_conntrack_count": "512",
      "net.ipv4.conf.eth0/100.rp_filter": "1",
      "net.netfilter.nf_conntrack_buckets": "32768",
      "sys.module.nf_conntrack.parameters.hashsize": "32768",
    });
    expect(normalizeSysctlKey("/proc/sys/net/netfilter/nf_conntrack_max")).toBe("net.netfilter.nf_conntrack_max");
  });

  it("rejects a line that is not KEY = VALUE, naming the line", () => {
    expect(() => parseSysctl("net.netfilter.nf_conntrack_max = 1\nthis is not sysctl\n")).toThrow(InputError);
    expect(() => parseSysctl("a = 1\nthis is not sysctl\n")).toThrow(/line 2/);
  });
});

describe("conntrack settings from sysctl", () => {
  it("takes max, count, buckets, acct and every timeout from a modern dump", () => {
    const f = collectHostFactsFromTexts({ sysctl: fx("sysctl-a.txt") });
    expect(f.max).toBe(65536);
    expect(f.count).toBe(58982);
    expect(f.buckets).toBe(65536);
    expect(f.acct).toBe(true);
    expect(f.wordBits).toBe(64);
    expect(f.timeouts).toEqual({
      generic_timeout: 600,
      tcp_timeout_close_wait: 3600,
      tcp_timeout_established: 432000,
      tcp_timeout_syn_recv: 60,
      tcp_timeout_syn_sent: 120,
      udp_timeout: 30,
      udp_timeout_stream: 120,
    });
    expect(f.notes).toEqual([]);
  });

  it("reads the ip_conntrack era keys and the hashsize module parameter", () => {
    const legacy = collectHostFactsFromTexts({ sysctl: fx("sysctl-legacy.txt") });
    expect([legacy.max, legacy.count, legacy.buckets]).toEqual([65536, 21, 8192]);
    expect(legacy.timeouts).toEqual({ tcp_timeout_established: 432000 });
    const slash = collectHostFactsFromTexts({ sysctl: fx("sysctl-slash.txt") });
    expect([slash.max, slash.count, slash.buckets, slash.hashsize]).toEqual([131072, 512, 32768, 32768]);
  });

  it("leaves missing facts null and says so", () => {
    const f = collectHostFactsFromTexts({ sysctl: "kernel.hostname = x\n" });
    expect([f.max, f.count, f.buckets, f.acct]).toEqual([null, null, null, null]);
    expect(f.notes).toEqual(["nf_conntrack_max is not in the sysctl input"]);
  });

  it("prefers net.netfilter over the ip_conntrack keys", () => {
    const t = conntrackTimeouts({
      "net.ipv4.netfilter.ip_conntrack_tcp_timeout_established": "100",
      "net.netfilter.nf_conntrack_tcp_timeout_established": "200",
      "net.netfilter.nf_conntrack_frag6_timeout": "60",
    });
    expect(t).toEqual({ tcp_timeout_established: 200 });
  });
});
