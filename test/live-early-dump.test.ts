/**
 * The kernel dump a one-shot live snapshot starts before ctscope has loaded: which command lines
 * it serves (a plain dump must be exactly what the scan would ask for), and that it is taken once.
 */
import { describe, expect, it } from "vitest";
import { startEarlyDump, takeEarlyDump, wantsEarlyDump } from "../src/live/early-dump.js";
import { netlinkAddon } from "../src/live/netlink.js";
import { KEY_BYTES, VALUE_FIELDS } from "../src/parse/layout.js";

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
    const agg = await p!;
    expect(agg.keys.length % KEY_BYTES).toBe(0);
    expect(agg.values.length).toBe((agg.keys.length / KEY_BYTES) * VALUE_FIELDS);
  });
});
