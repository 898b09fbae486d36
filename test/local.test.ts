/**
 * Which side of an entry is "remote": given with --local (CIDRs), taken from the host's interfaces
 * (live), or inferred (the endpoint seen in more entries is local). Inbound, outbound, transit and
 * both-local entries each resolve as documented.
 */
import { describe, expect, it } from "vitest";
import { UsageError } from "../src/errors.js";
import { analyzeText, top } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";

function tcp(src: string, dst: string, sport: number, dport: number): string {
  return `tcp      6 431999 ESTABLISHED src=${src} dst=${dst} sport=${sport} dport=${dport} src=${dst} dst=${src} sport=${dport} dport=${sport} [ASSURED] mark=0 use=1`;
}
function udp(src: string, dst: string, sport: number, dport: number): string {
  return `udp      17 29 src=${src} dst=${dst} sport=${sport} dport=${dport} src=${dst} dst=${src} sport=${dport} dport=${sport} mark=0 use=1`;
}

/** A server 192.168.1.10 (and 2001:db8::10) seen from its own table. */
const HOST = [
  // inbound HTTPS from one client, three connections
  tcp("203.0.113.5", "192.168.1.10", 50001, 443),
  tcp("203.0.113.5", "192.168.1.10", 50002, 443),
  tcp("203.0.113.5", "192.168.1.10", 50003, 443),
  // inbound SSH
  tcp("198.51.100.7", "192.168.1.10", 50004, 22),
  // outbound HTTPS, two connections
  tcp("192.168.1.10", "93.184.216.34", 40001, 443),
  tcp("192.168.1.10", "93.184.216.34", 40002, 443),
  // outbound DNS to the router (same /24, not this host)
  udp("192.168.1.10", "192.168.1.1", 40003, 53),
  // forwarded (neither side is this host)
  udp("10.8.0.2", "8.8.8.8", 40004, 53),
  // both sides local
  tcp("127.0.0.1", "127.0.0.1", 40005, 631),
  // IPv6 inbound
  tcp("2001:db8::99", "2001:db8::10", 40006, 443),
].join("\n");

describe.each(BACKENDS)("local and remote (%s backend)", (backend) => {
  it("--local: inbound → source, outbound → destination, transit → destination, both local → source", async () => {
    const s = await analyzeText(HOST, backend, { local: ["192.168.1.10/32,127.0.0.0/8", "2001:db8::10"] });
    expect(s.local).toEqual({
      mode: "given",
      addresses: ["192.168.1.10/32", "127.0.0.0/8", "2001:db8::10"],
      explanation: "local addresses given with --local",
    });
    expect(top(s, "remote")).toEqual({
      "203.0.113.5": 3,
      "93.184.216.34": 2,
      "198.51.100.7": 1,
      "192.168.1.1": 1,
      "8.8.8.8": 1,
      "127.0.0.1": 1,
      "2001:db8::99": 1,
    });
    expect(top(s, "remote_service_state")).toEqual({
      "203.0.113.5 tcp 192.168.1.10:443 ESTABLISHED": 3,
      "93.184.216.34 tcp 93.184.216.34:443 ESTABLISHED": 2,
      "127.0.0.1 tcp 127.0.0.1:631 ESTABLISHED": 1,
      "192.168.1.1 udp 192.168.1.1:53": 1,
      "198.51.100.7 tcp 192.168.1.10:22 ESTABLISHED": 1,
      "2001:db8::99 tcp [2001:db8::10]:443 ESTABLISHED": 1,
      "8.8.8.8 udp 8.8.8.8:53": 1,
    });
    expect(s.top.remote_service_state[0]).toMatchObject({
      remote: "203.0.113.5",
      proto: "tcp",
      addr: "192.168.1.10",
      port: 443,
      state: "ESTABLISHED",
    });
    const byDst = Object.fromEntries(s.classes.map((c) => [`${c.src}>${c.dst}`, [c.remote, c.local]]));
    expect(byDst["10.8.0.2>8.8.8.8"]).toEqual(["8.8.8.8", "10.8.0.2"]);
    expect(byDst["192.168.1.10>93.184.216.34"]).toEqual(["93.184.216.34", "192.168.1.10"]);
    expect(byDst["203.0.113.5>192.168.1.10"]).toEqual(["203.0.113.5", "192.168.1.10"]);
  });

  it("inferred: the busier endpoint is local; ties make the destination local", async () => {
    const s = await analyzeText(HOST, backend);
    expect(s.local.mode).toBe("inferred");
    expect(s.local.explanation).toContain("pass --local CIDR");
    // 192.168.1.10 is in 7 entries; the tied singletons follow in address order (numeric, IPv4 first).
    expect(s.local.addresses).toEqual(["192.168.1.10", "8.8.8.8", "127.0.0.1", "2001:db8::10"]);
    expect(top(s, "remote")).toEqual({
      "203.0.113.5": 3,
      "93.184.216.34": 2,
      "198.51.100.7": 1,
      "192.168.1.1": 1,
      // Unlike --local, the forwarded entry's source is taken as remote (1 entry each side: a tie).
      "10.8.0.2": 1,
      "127.0.0.1": 1,
      "2001:db8::99": 1,
    });
  });

  it("host addresses (live mode) decide like --local, and --local wins over them", async () => {
    const host = await analyzeText(HOST, backend, { hostLocal: ["192.168.1.10/32", "127.0.0.1/32", "2001:db8::10/128"] });
    expect(host.local.mode).toBe("host");
    expect(host.local.addresses).toEqual(["192.168.1.10/32", "127.0.0.1/32", "2001:db8::10/128"]);
    expect(top(host, "remote")["8.8.8.8"]).toBe(1);
    expect(top(host, "remote")["203.0.113.5"]).toBe(3);
    const given = await analyzeText(HOST, backend, { hostLocal: ["192.168.1.10/32"], local: ["8.8.8.8"] });
    expect(given.local.mode).toBe("given");
    // Only 8.8.8.8 is local now: the forwarded entry's remote is its source.
    expect(top(given, "remote")["10.8.0.2"]).toBe(1);
    expect(top(given, "remote")["192.168.1.10"]).toBe(4);
  });

  it("a CIDR with host bits set covers its whole network", async () => {
    const s = await analyzeText(HOST, backend, { local: ["192.168.1.77/24"] });
    // 192.168.1.1 is local now: the DNS entry is local-to-local and its remote is the source.
    const dns = s.classes.find((c) => c.dport === 53 && c.dst === "192.168.1.1")!;
    expect([dns.remote, dns.local]).toEqual(["192.168.1.10", "192.168.1.1"]);
  });

  it.each([["10.0.0.0/33"], ["not-an-address"], ["10.0.0.0/"], ["2001:db8::/129"], ["10.0.0.1/-1"]])(
    "--local %s is a usage error",
    async (cidr) => {
      await expect(analyzeText(HOST, backend, { local: [cidr] })).rejects.toBeInstanceOf(UsageError);
      await expect(analyzeText(HOST, backend, { local: [cidr] })).rejects.toThrow(/^--local: /);
    },
  );
});
