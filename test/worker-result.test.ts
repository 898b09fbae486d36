/**
 * A worker's aggregate moves to the main thread: its keys and values buffers are in Piscina's
 * transfer list (a copy would stay in the worker until its next garbage collection), and nothing
 * that is not the arrays' own whole buffer is.
 */
import Piscina from "piscina";
import { describe, expect, it } from "vitest";
import { compileFilter } from "../src/engine/filter.js";
import { ownedBuffer, releaseBuffers } from "../src/engine/transfer.js";
import scan, { type WorkerResult } from "../src/engine/worker.js";
import { KEY_BYTES, VALUE_FIELDS } from "../src/parse/layout.js";
import { BACKENDS } from "./helpers/backends.js";

const LINES = [
  "ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=443 src=10.0.0.2 dst=10.0.0.1 sport=443 dport=40000 [ASSURED] mark=0 zone=0 use=2",
  "ipv4     2 udp      17 25 src=10.0.0.3 dst=10.0.0.53 sport=5353 dport=53 [UNREPLIED] src=10.0.0.53 dst=10.0.0.3 sport=53 dport=5353 mark=0 zone=0 use=2",
  "",
].join("\n");

interface Movable {
  [Piscina.transferableSymbol]: ArrayBuffer[];
  [Piscina.valueSymbol]: WorkerResult;
}

describe.each(BACKENDS)("worker result (%s backend)", (backend) => {
  it("moves the keys and values buffers instead of copying them", () => {
    const bytes = new TextEncoder().encode(LINES);
    const moved = scan({ kind: "bytes", bytes, filter: compileFilter({}), backend }) as unknown as Movable;
    const transfer = moved[Piscina.transferableSymbol];
    const value = moved[Piscina.valueSymbol];
    if (!value.ok) throw new Error(value.message);
    const { keys, values } = value.result;
    expect(keys.length).toBe(2 * KEY_BYTES);
    expect(values.length).toBe(2 * VALUE_FIELDS);
    expect(transfer).toHaveLength(2);
    expect(transfer[0]).toBe(keys.buffer);
    expect(transfer[1]).toBe(values.buffer);
    expect(keys.buffer.byteLength).toBe(keys.byteLength);
    expect(values.buffer.byteLength).toBe(values.byteLength);
  });

  it("sends a failure as plain data, with nothing to transfer", () => {
    const r = scan({ kind: "range", path: "/nonexistent/ctscope-dump.txt", start: 0, end: 10, filter: compileFilter({}), backend });
    expect(r).toMatchObject({ ok: false, name: "InputError" });
    expect(Piscina.transferableSymbol in (r as object)).toBe(false);
  });
});

describe("ownedBuffer", () => {
  it("only a buffer the array owns whole is transferred", () => {
    const whole = new Float64Array(4);
    expect(ownedBuffer(whole)).toBe(whole.buffer);
    expect(ownedBuffer(Buffer.from(new Uint8Array(8192)))).not.toBeNull();
    // A small Buffer is a slice of Node's shared pool, which must not be transferred.
    const small = Buffer.from("ipv4 2 tcp 6\n");
    expect(small.buffer.byteLength).toBeGreaterThan(small.length);
    expect(ownedBuffer(small)).toBeNull();
    expect(ownedBuffer(whole.subarray(1))).toBeNull();
    expect(ownedBuffer(new Uint8Array(0))).toBeNull();
    expect(ownedBuffer(new Uint8Array(new SharedArrayBuffer(8)))).toBeNull();
  });
});

describe("releaseBuffers", () => {
  it("frees the memory at once, not at a later collection; skips what it must not take", () => {
    const mib = () => process.memoryUsage().arrayBuffers / 1048576;
    const big = [new Float64Array(4 << 20), new Uint8Array(32 << 20)];
    for (const a of big) a.fill(1);
    const before = mib();
    // The same array twice, a pool slice and an empty array are fine too.
    const small = Buffer.from("ipv4 2 tcp 6\n");
    releaseBuffers([...big, big[0]!, small, new Uint8Array(0)]);
    expect(before - mib()).toBeGreaterThanOrEqual(60);
    expect(big.map((a) => a.byteLength)).toEqual([0, 0]);
    expect(small.toString()).toBe("ipv4 2 tcp 6\n");
  });
});
