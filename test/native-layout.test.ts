/**
 * The constants compiled into the addon (native/layout.h) equal the layout contract in
 * src/parse/layout.ts, name for name: a drifted number would silently corrupt every merged key.
 */
import { describe, expect, it } from "vitest";
import { CIDR_BYTES } from "../src/engine/contract.js";
import * as layout from "../src/parse/layout.js";
import { loadNative } from "./helpers/native-compare.js";

const addon = loadNative("native-layout");

/** Every constant the C++ code uses; each must be exported by the addon and by layout.ts. */
const REQUIRED = [
  "KEY_BYTES",
  "K_FAMILY",
  "K_PROTO",
  "K_STATE",
  "K_FLAGS",
  "K_DPORT",
  "K_SRC",
  "K_DST",
  "F_UNREPLIED",
  "F_ASSURED",
  "F_OFFLOAD",
  "F_HW_OFFLOAD",
  "F_NAT",
  "F_HAS_PORT",
  "VALUE_FIELDS",
  "V_COUNT",
  "V_PACKETS",
  "V_BYTES",
  "V_MAX_TIMEOUT",
  "COUNTER_FIELDS",
  "C_LINES",
  "C_ENTRIES",
  "C_MALFORMED",
  "C_BLANK",
  "C_IGNORED",
  "C_DESTROYED",
  "C_FILTERED",
  "C_ACCT",
  "C_FORM_L3",
  "C_FORM_PLAIN",
  "C_FORM_XML",
  "C_EVENTS",
  "HIST_EDGES",
  "HIST_BUCKETS",
  "HIST_NONE",
  "HIST_FIELDS",
  "HIST_ALL",
  "HIST_TCP_ESTABLISHED",
  "MALFORMED_SAMPLES",
  "MALFORMED_SAMPLE_BYTES",
  "MAX_TIMEOUT",
  "MAX_DIGITS",
  "STATE_COUNT",
  "STATE_NAMES",
  "STATE_ALLOWED",
  "S_ESTABLISHED",
  "S_SYN_SENT",
  "S_SYN_RECV",
  "S_CLOSE_WAIT",
  "S_TIME_WAIT",
  "P_ICMP",
  "P_TCP",
  "P_UDP",
  "P_DCCP",
  "P_GRE",
  "P_ICMPV6",
  "P_SCTP",
  "P_UDPLITE",
];

describe.skipIf(!addon)("native layout", () => {
  const native = addon?.layout() as Record<string, unknown>;
  const ts = { ...layout, CIDR_BYTES } as Record<string, unknown>;

  it("exports every constant the tokenizer uses", () => {
    expect(REQUIRED.filter((name) => !(name in native))).toEqual([]);
    expect(REQUIRED.filter((name) => !(name in ts))).toEqual([]);
  });

  it("has the same value as layout.ts for every exported name", () => {
    const names = Object.keys(native).sort();
    expect(names.length).toBe(REQUIRED.length + 1); // + CIDR_BYTES from contract.ts
    for (const name of names) {
      const want = ts[name];
      const got = native[name];
      expect(want, `${name} is not exported by layout.ts`).toBeDefined();
      const norm = (v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v);
      expect(norm(got), name).toEqual(norm(want));
    }
  });

  it("agrees on the derived tables: histogram edges, state names, allowed states per protocol", () => {
    expect(native.HIST_EDGES).toEqual([...layout.HIST_EDGES]);
    expect(native.STATE_NAMES).toEqual([...layout.STATE_NAMES]);
    expect(native.HIST_BUCKETS).toBe(15);
    expect(native.STATE_COUNT).toBe(29);
    const allowed = native.STATE_ALLOWED as Uint8Array;
    expect(allowed.length).toBe(256 * layout.STATE_COUNT);
    // Spot checks written out by hand, besides the full comparison above.
    const ok = (proto: number, state: string) => allowed[proto * layout.STATE_COUNT + layout.STATE_NAMES.indexOf(state as never)];
    expect(ok(layout.P_TCP, "ESTABLISHED")).toBe(1);
    expect(ok(layout.P_TCP, "LISTEN")).toBe(1);
    expect(ok(layout.P_TCP, "OPEN")).toBe(0);
    expect(ok(layout.P_SCTP, "HEARTBEAT_ACKED")).toBe(1);
    expect(ok(layout.P_SCTP, "SYN_SENT")).toBe(0);
    expect(ok(layout.P_DCCP, "TIMEWAIT")).toBe(1);
    expect(ok(layout.P_DCCP, "TIME_WAIT")).toBe(0);
    expect(ok(layout.P_UDP, "NONE")).toBe(0);
    let total = 0;
    for (const v of allowed) total += v;
    expect(total).toBe(11 + 10 + 10);
  });
});
