/**
 * The real-kernel harness itself: namespaces start empty with conntrack active, and nothing is
 * left behind (processes, namespaces), including leftovers of a run that died.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createNamespace, kernelTestSupport, NS_PREFIX, removeStaleNamespaces, staleNamespaces } from "./helpers/netns.js";

const support = kernelTestSupport();
if (!support.ok) console.log(`kernel-harness: skipped: ${support.reason}`);

const listed = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });

describe.skipIf(!support.ok)("network namespace harness", () => {
  it("creates an empty namespace with lo up and a ct rule, and removes it with its processes", async () => {
    const ns = await createNamespace("harness");
    try {
      expect(ns.name.startsWith(`${NS_PREFIX}harness-${process.pid}-`)).toBe(true);
      expect(listed()).toContain(ns.name);
      expect((await ns.exec("cat", ["/proc/sys/net/netfilter/nf_conntrack_count"])).stdout.trim()).toBe("0");
      expect((await ns.exec("ip", ["-o", "link", "show", "lo"])).stdout).toContain("UP");
      expect((await ns.exec("nft", ["list", "ruleset"])).stdout).toMatch(/ct state established,related accept/);
      // A namespace's own sysctl, not the host's.
      const host = execFileSync("sysctl", ["-n", "net.netfilter.nf_conntrack_udp_timeout"], { encoding: "utf8" }).trim();
      await ns.sysctl("net.netfilter.nf_conntrack_udp_timeout", Number(host) + 7);
      expect((await ns.exec("sysctl", ["-n", "net.netfilter.nf_conntrack_udp_timeout"])).stdout.trim()).toBe(String(Number(host) + 7));
      expect(execFileSync("sysctl", ["-n", "net.netfilter.nf_conntrack_udp_timeout"], { encoding: "utf8" }).trim()).toBe(host);
      const child = ns.spawn("sleep", ["300"]);
      await new Promise((r) => child.once("spawn", r));
      expect(child.pid).toBeGreaterThan(0);
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      await ns.destroy();
      await exited;
      expect(existsSync(`/proc/${child.pid}`)).toBe(false);
      expect(listed()).not.toContain(ns.name);
      expect(existsSync(ns.dir)).toBe(false);
    } finally {
      await ns.destroy();
    }
  });

  it("removes namespaces left by a process that died", async () => {
    const dead = spawn("true");
    await new Promise((r) => dead.once("exit", r));
    const name = `${NS_PREFIX}leftover-${dead.pid}-${Date.now()}`;
    execFileSync("ip", ["netns", "add", name]);
    try {
      expect(staleNamespaces()).toContain(name);
      expect(removeStaleNamespaces()).toContain(name);
      expect(listed()).not.toContain(name);
    } finally {
      execFileSync("sh", ["-c", `ip netns del ${name} 2>/dev/null || true`]);
    }
  });

  it("keeps namespaces of live runs", async () => {
    const ns = await createNamespace("alive");
    try {
      expect(staleNamespaces()).not.toContain(ns.name);
    } finally {
      await ns.destroy();
    }
  });
});
