/**
 * The memory the native builders hand on from one phase to the next (MappingCache in
 * native/flowtable.h): checked by a small C++ program built from native/test/ (no addon needed).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const tmp = mkdtempSync(join(tmpdir(), "ctscope-mapping-cache-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cxx = ["c++", "g++", "clang++"].find((c) => spawnSync(c, ["--version"]).status === 0);
if (!cxx) console.log("native-mapping-cache: no C++ compiler found, skipped");

describe.skipIf(!cxx)("MappingCache", () => {
  it("hands out zeroed pieces, joins them again, trims, and arrays grown past a joined piece keep their data", { timeout: 120_000 }, () => {
    const bin = join(tmp, "mapping_cache");
    execFileSync(cxx!, [
      "-std=c++17",
      "-O1",
      "-Wall",
      "-Werror",
      "-I",
      join(ROOT, "native"),
      join(ROOT, "native", "test", "mapping_cache.cc"),
      "-o",
      bin,
    ]);
    const run = spawnSync(bin, [], { encoding: "utf8" });
    expect(run.signal, run.stderr).toBeNull();
    expect(
      run.stdout.split("\n").filter((l) => l.startsWith("FAIL ")),
      run.stdout,
    ).toEqual([]);
    expect(run.stdout.split("\n").filter((l) => l.startsWith("ok ")).length, run.stdout).toBe(17);
    expect(run.status).toBe(0);
  });
});
