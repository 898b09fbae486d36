/**
 * Unreadable and truncated inputs through the native scanFile: an InputError (the class from
 * src/errors.ts) with the same message as the TS backend's scanFile, never a crash. A file cut
 * while it is mapped (SIGBUS) is checked by a small C++ program built from native/test/.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { emptyFilter } from "../src/engine/contract.js";
import { tsBackend } from "../src/engine/ts-backend.js";
import { InputError } from "../src/errors.js";
import { C_ENTRIES, C_LINES } from "../src/parse/layout.js";
import { scanBuffer } from "../src/parse/tokenizer.js";
import { aggregateDiff, loadNative } from "./helpers/native-compare.js";
import { LineGen } from "./helpers/random-lines.js";

const addon = loadNative("native-truncation");
const ROOT = join(import.meta.dirname, "..");

const tmp = mkdtempSync(join(tmpdir(), "ctscope-native-truncation-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The error scanFile throws for path[start, end) (fails the test when it does not throw). */
function nativeError(path: string, start: number, end: number): InputError {
  try {
    addon!.scanFile(path, start, end, emptyFilter());
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return err as InputError;
  }
  throw new Error(`scanFile(${path}, ${start}, ${end}) did not throw`);
}

/** The message of the TS backend's InputError for the same read. */
function tsMessage(path: string, start: number, end: number): string {
  try {
    tsBackend.scanFile(path, start, end, emptyFilter());
  } catch (err) {
    expect(err).toBeInstanceOf(InputError);
    return (err as InputError).message;
  }
  throw new Error(`TS scanFile(${path}, ${start}, ${end}) did not throw`);
}

describe.skipIf(!addon)("native scanFile on unreadable and truncated inputs", () => {
  const gen = new LineGen(7);
  const bytes = gen.join(Array.from({ length: 200 }, () => gen.valid("proc")));

  it("reports a file truncated after planning (range beyond EOF) as InputError, like the TS backend", () => {
    const path = join(tmp, "shrunk.txt");
    writeFileSync(path, bytes);
    const planned = bytes.length;
    truncateSync(path, Math.floor(planned / 2));
    for (const [s, e] of [
      [0, planned],
      [Math.floor(planned * 0.75), planned],
      [planned + 100, planned + 200],
    ] as const) {
      const err = nativeError(path, s, e);
      expect(err.message).toBe(`${path}: file was truncated while being read (expected ${e} bytes)`);
      expect(err.message).toBe(tsMessage(path, s, e));
      expect(err.path).toBe(path);
      expect(err.exitCode).toBe(3);
    }
    // What is still there scans normally.
    const half = bytes.subarray(0, Math.floor(planned / 2));
    const r = addon!.scanFile(path, 0, half.length, emptyFilter());
    expect(aggregateDiff(r, scanBuffer(half, 0, half.length, emptyFilter()))).toEqual([]);
    expect(r.counters[C_LINES]).toBeGreaterThan(50);
  });

  it("names missing files, directories and non-directory path components (as the TS backend does)", () => {
    const missing = join(tmp, "does-not-exist.txt");
    expect(nativeError(missing, 0, 10).message).toBe(`${missing}: no such file or directory`);
    expect(nativeError(missing, 0, 10).message).toBe(tsMessage(missing, 0, 10));
    const dir = join(tmp, "a-directory");
    mkdirSync(dir);
    expect(nativeError(dir, 0, 10).message).toBe(`${dir}: is a directory`);
    expect(nativeError(dir, 0, 10).path).toBe(dir);
    const file = join(tmp, "plain.txt");
    writeFileSync(file, bytes);
    const under = join(file, "child.txt");
    expect(nativeError(under, 0, 10).message).toBe(`${under}: a path component is not a directory`);
    expect(nativeError(under, 0, 10).message).toBe(tsMessage(under, 0, 10));
    expect(nativeError(under, 0, 10).path).toBe(under);
  });

  it("never maps what is not a regular file: a FIFO is refused at once", () => {
    const fifo = join(tmp, "fifo");
    const made = spawnSync("mkfifo", [fifo]);
    if (made.status !== 0) {
      console.log(`native-truncation: mkfifo unavailable (${made.error?.message ?? made.stderr}), FIFO case skipped`);
      return;
    }
    // Opening a FIFO for reading would block until a writer appears; scanFile must not.
    expect(nativeError(fifo, 0, 10).message).toBe(`${fifo}: not a regular file`);
  });

  it("reports permission denied", () => {
    if (process.getuid?.() === 0) {
      console.log("native-truncation: running as root, file permissions do not apply; permission case skipped");
      return;
    }
    const locked = join(tmp, "locked.txt");
    writeFileSync(locked, bytes, { mode: 0o000 });
    expect(nativeError(locked, 0, 10).message).toBe(`${locked}: permission denied`);
    expect(nativeError(locked, 0, 10).message).toBe(tsMessage(locked, 0, 10));
  });

  it("turns SIGBUS from a file cut while mapped into an InputError and leaves the process healthy", { timeout: 120_000 }, () => {
    const cxx = ["c++", "g++", "clang++"].find((c) => spawnSync(c, ["--version"]).status === 0);
    if (!cxx) {
      console.log("native-truncation: no C++ compiler found, SIGBUS harness skipped");
      return;
    }
    const bin = join(tmp, "truncate_while_mapped");
    execFileSync(cxx, [
      "-std=c++17",
      "-O1",
      "-I",
      join(ROOT, "native"),
      join(ROOT, "native", "test", "truncate_while_mapped.cc"),
      join(ROOT, "native", "tokenizer.cc"),
      join(ROOT, "native", "mapped_file.cc"),
      "-o",
      bin,
    ]);
    const scratch = join(tmp, "mapped.txt");
    const run = spawnSync(bin, [scratch], { encoding: "utf8" });
    expect(run.signal).toBeNull();
    expect(run.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, run.stdout + run.stderr).toBe(5);
    expect(run.stdout).toContain(`ok SIGBUS on the first window became: ${scratch}: file was truncated while being read (expected`);
    expect(run.status).toBe(0);
  });

  it("still scans a whole file after all of the above, in this process", () => {
    const path = join(tmp, "after.txt");
    writeFileSync(path, bytes);
    const r = addon!.scanFile(path, 0, bytes.length, emptyFilter());
    expect(r.counters[C_LINES]).toBe(200);
    expect(r.counters[C_ENTRIES]).toBe(200);
  });
});
