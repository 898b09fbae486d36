/**
 * The kernel dump a one-shot live snapshot starts before ctscope has loaded: which command lines
 * it serves (a plain dump must be exactly what the scan would ask for), and that it is taken once.
 */
import { describe, expect, it } from "vitest";
import { buildDimensions, type LocalSpec } from "../src/engine/dimensions.js";
import { encodeCidrs, parseCidrs } from "../src/engine/filter.js";
import { startEarlyDump, takeEarlyDump, wantsEarlyDump } from "../src/live/early-dump.js";
import { encodeHostCidrs, hostAddresses } from "../src/live/host-addresses.js";
import { localCidrBytes, netlinkAddon } from "../src/live/netlink.js";
import { C_ACCT, KEY_BYTES, VALUE_FIELDS } from "../src/parse/layout.js";
import { expectSameDimensions } from "./helpers/dimensions-compare.js";

describe("wantsEarlyDump", () => {
  it("serves analyze --live --once without filters, from netlink or auto", () => {
    expect(wantsEarlyDump(["analyze", "--live", "--once", "--json"], {})).toBe(true);
    expect(wantsEarlyDump(["analyze", "--once", "--live", "--source", "netlink", "--top", "5"], {})).toBe(true);
    expect(wantsEarlyDump(["analyze", "--live", "--once", "--source=auto", "--local", "10.0.0.0/8"], {})).toBe(true);
  });

  it("stays out of everything else", () => {
    const no = (args: string[], env: NodeJS.ProcessEnv = {}) => expect(wantsEarlyDump(args, env), args.join(" ")).toBe(false);
    no(["analyze", "--live", "--json"]);
    no(["analyze", "--once"]);
    no(["gen", "--live", "--once"]);
    no(["analyze", "--live", "--once", "--proto", "tcp"]);
    no(["analyze", "--live", "--once", "--port=53"]);
    no(["analyze", "--live", "--once", "--src", "10.0.0.0/8"]);
    no(["analyze", "--live", "--once", "--state", "ESTABLISHED"]);
    no(["analyze", "--live", "--once", "--dst=10.0.0.1"]);
    no(["analyze", "--live", "--once", "--source", "proc"]);
    no(["analyze", "--live", "--once", "--source=conntrack"]);
    no(["analyze", "--live", "--once", "--source"]);
    no(["analyze", "--live", "--once", "--replay", "x.ndjson"]);
    no(["analyze", "--live", "--once", "--help"]);
    no(["analyze", "--live", "--once", "--", "dump.txt"]);
    no(["analyze", "--live", "--once"], { CTSCOPE_BACKEND: "ts" });
  });
});

describe("encodeHostCidrs", () => {
  it("encodes host addresses exactly as parseCidrs and encodeCidrs do", () => {
    const list = [
      "127.0.0.1/32",
      "10.0.2.15/32",
      "255.255.255.255/32",
      "::1/128",
      "::/128",
      "fe80::a00:27ff:fe4e:66a1/128",
      "2001:db8:0:0:1::/128",
      "2001:DB8::8:800:200C:417A/128",
      "1:2:3:4:5:6:7:8/128",
      "1::8/128",
    ];
    expect(encodeHostCidrs(list)).toEqual(encodeCidrs(parseCidrs(list, "host address")));
    expect(encodeHostCidrs(hostAddresses())).toEqual(encodeCidrs(parseCidrs(hostAddresses(), "host address")));
    expect(encodeHostCidrs([])).toEqual(new Uint8Array(0));
  });

  it("gives up on anything that is not a plain exact address", () => {
    for (const odd of [
      "::ffff:1.2.3.4/128",
      "10.0.0.0/8",
      "1.2.3.256/32",
      "1::2::3/128",
      "1:2:3:4:5:6:7:8:9/128",
      "1:2:3:4:5:6:7::8/128",
      "12345::/128",
      "x/32",
    ]) {
      expect(encodeHostCidrs(["127.0.0.1/32", odd]), odd).toBeNull();
    }
  });
});

describe.skipIf(!netlinkAddon() || process.getuid?.() !== 0)("startEarlyDump", () => {
  it("starts one dump for a command line it serves; the scan takes it once", async () => {
    expect(startEarlyDump(["analyze", "--live", "--proto", "tcp", "--once"], {})).toBe(false);
    expect(takeEarlyDump()).toBeNull();
    expect(startEarlyDump(["analyze", "--live", "--once"], {})).toBe(true);
    // A second start while one is pending does nothing.
    expect(startEarlyDump(["analyze", "--live", "--once"], {})).toBe(false);
    const p = takeEarlyDump();
    expect(p).not.toBeNull();
    expect(takeEarlyDump()).toBeNull();
    const agg = await p!.dump;
    expect(agg.keys.length % KEY_BYTES).toBe(0);
    expect(agg.values.length).toBe((agg.keys.length / KEY_BYTES) * VALUE_FIELDS);
    // Without --local, the dump builds the dimensions for this host's addresses.
    const local: LocalSpec = { mode: "host", cidrs: parseCidrs(hostAddresses(), "host address") };
    expect(p!.localCidrs).toEqual(localCidrBytes(local));
    const table = { size: agg.keys.length / KEY_BYTES, keys: agg.keys, values: agg.values };
    expectSameDimensions(agg.dimensions!, buildDimensions(table, local, agg.counters[C_ACCT]! > 0), "early dump");
  });

  it("with --local, the dump leaves the dimensions to the scan", async () => {
    expect(startEarlyDump(["analyze", "--live", "--once", "--local", "10.0.0.0/8"], {})).toBe(true);
    const p = takeEarlyDump();
    expect(p!.localCidrs).toBeUndefined();
    expect((await p!.dump).dimensions).toBeUndefined();
  });
});
