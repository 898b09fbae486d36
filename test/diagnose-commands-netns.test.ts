import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { collectHostFactsFromTexts } from "../src/diagnose/hostfacts.js";
import { diagnose } from "../src/diagnose/index.js";
import { buildSnapshot, ipv4, rows } from "./helpers/snapshot-builder.js";

// Every firewall and conntrack command the diagnosis prints is run for real, inside a throwaway
// network namespace (its rules and table vanish with it). sysctl and file writes are global, so
// for those only the target is checked to exist.

const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
const missing = ["ip", "nft", "iptables", "ip6tables", "conntrack"].filter((c) => !have(c));
const isRoot = process.getuid?.() === 0;
const skip = !isRoot || missing.length > 0;
if (skip) console.log(`skipping the netns command test: ${!isRoot ? "not root" : `missing ${missing.join(", ")}`}`);

const NS = `ctscope-diag-${process.pid}`;

function everyRuleDiagnosis() {
  const snap = buildSnapshot([
    { src: "10.0.0.5", dst: "142.250.1.188", dport: 5228, remote: "dst", count: 52000, maxTimeout: 431000 },
    ...rows(300, (i) => ({ src: "10.0.0.5", dst: ipv4(151, i * 3), dport: 443, remote: "dst" as const, count: 10, maxTimeout: 431500 })),
    { src: "2001:db8:9::50", dst: "2001:db8::1", dport: 25, count: 8000 },
    { src: "203.0.113.66", dst: "10.0.0.5", dport: 80, state: "SYN_RECV", count: 3000, maxTimeout: 59 },
    ...rows(40, (i) => ({
      src: `2001:db8:1:2::${(i + 1).toString(16)}`,
      dst: "2001:db8::1",
      dport: 22,
      state: "SYN_SENT",
      unreplied: true,
      count: 10,
      maxTimeout: 100,
    })),
    ...rows(2000, (i) => ({ src: ipv4(11, i * 256 + 7), dst: "10.0.0.1", dport: 443, state: "SYN_RECV", maxTimeout: 50 })),
    { src: "198.18.0.7", dst: "10.0.0.1", proto: "udp", dport: 9999, unreplied: true, count: 5000, maxTimeout: 29 },
    ...rows(300, (i) => ({ src: "192.0.2.9", dst: "10.0.0.1", dport: i + 1, state: "CLOSE", maxTimeout: 9 })),
    ...rows(1500, (i) => ({ src: ipv4(100, i), dst: "10.0.0.53", proto: "udp", dport: 53, maxTimeout: 25 })),
    ...rows(500, (i) => ({ src: `2001:db8:5::${(i + 1).toString(16)}`, dst: "2001:db8::53", proto: "udp", dport: 53, maxTimeout: 25 })),
    { src: "10.0.0.7", dst: "192.0.2.50", dport: 8080, remote: "dst", count: 5000, maxTimeout: 100000 },
    ...rows(1500, (i) => ({ src: ipv4(100, i), dst: "10.0.0.1", dport: 8443, state: "CLOSE_WAIT", maxTimeout: 3500 })),
  ]);
  const facts = collectHostFactsFromTexts({
    sysctl: "net.netfilter.nf_conntrack_count = 90000\nnet.netfilter.nf_conntrack_max = 65536\nnet.netfilter.nf_conntrack_buckets = 4096\n",
  });
  return diagnose(snap, facts, { establishedTimeoutTarget: 7200 });
}

describe.skipIf(skip)("printed commands run as printed", () => {
  beforeAll(() => {
    const r = spawnSync("ip", ["netns", "add", NS]);
    if (r.status !== 0) throw new Error(`ip netns add: ${r.stderr}`);
  });
  afterAll(() => {
    spawnSync("ip", ["netns", "del", NS]);
  });

  it("iptables, ip6tables, nft and conntrack commands succeed in a namespace", () => {
    const d = everyRuleDiagnosis();
    const ids = new Set(d.recommendations.map((r) => r.id.split(":")[0]));
    for (const kind of [
      "raise-max",
      "inspect-remote",
      "drop-source",
      "limit-source",
      "synproxy",
      "notrack",
      "clear-orphans",
      "established-timeout",
      "close-wait-timeout",
    ]) {
      expect(ids.has(kind)).toBe(true);
    }
    const runnable = d.recommendations.flatMap((r) => r.commands).filter((c) => /^(?:iptables|ip6tables|nft|conntrack) /.test(c));
    expect(runnable.length).toBeGreaterThan(30);
    for (const cmd of runnable) {
      const r = spawnSync("ip", ["netns", "exec", NS, "sh", "-c", cmd], { encoding: "utf8" });
      // conntrack -D exits 1 when it found nothing to delete (the namespace's table is empty).
      const ok = r.status === 0 || (cmd.startsWith("conntrack -D") && /0 flow entries have been deleted/.test(r.stderr));
      expect({ cmd, ok, stderr: ok ? "" : r.stderr }).toEqual({ cmd, ok: true, stderr: "" });
    }
  });

  it("sysctl and module-parameter commands name settings that exist on this kernel", () => {
    if (!existsSync("/proc/sys/net/netfilter/nf_conntrack_max")) return;
    const cmds = everyRuleDiagnosis().recommendations.flatMap((r) => r.commands);
    const names = cmds.flatMap((c) => /^sysctl -w net\.netfilter\.(\w+)=\d+$/.exec(c)?.[1] ?? []);
    expect(names.length).toBeGreaterThan(3);
    for (const n of names) expect(existsSync(`/proc/sys/net/netfilter/${n}`)).toBe(true);
    for (const c of cmds.filter((x) => x.startsWith("echo "))) {
      expect(c).toMatch(
        /^echo (?:'net\.netfilter\.\w+ = \d+' >> \/etc\/sysctl\.d\/90-conntrack\.conf|\d+ > \/sys\/module\/nf_conntrack\/parameters\/hashsize|'options nf_conntrack hashsize=\d+' > \/etc\/modprobe\.d\/90-conntrack-hashsize\.conf)$/,
      );
    }
    expect(existsSync("/sys/module/nf_conntrack/parameters/hashsize")).toBe(true);
  });
});
