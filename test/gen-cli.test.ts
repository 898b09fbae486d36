import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildProgram } from "../src/cli.js";
import { parseCount } from "../src/commands/gen.js";
import { UsageError } from "../src/errors.js";
import { generateBuffer } from "../src/gen/generate.js";
import { plantedTruth } from "../src/gen/model.js";

const dir = mkdtempSync(join(tmpdir(), "ctscope-gen-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<void> {
  const program = buildProgram();
  await program.parseAsync(["node", "ctscope", ...args]);
}

describe("ctscope gen", () => {
  it("-o writes the same bytes as the library, renames into place, and --truth writes the expected counts", async () => {
    const out = join(dir, "dump.txt");
    const truth = join(dir, "truth.json");
    await run("gen", "2k", "--format", "extended", "--seed", "9", "--acct", "-o", out, "--truth", truth);
    expect(readFileSync(out).equals(generateBuffer({ n: 2000, seed: 9, format: "extended", acct: true }))).toBe(true);
    expect(JSON.parse(readFileSync(truth, "utf8"))).toEqual(plantedTruth(2000, 9, "extended", true));
    // No temporary file left beside it.
    expect(readdirSync(dir).sort()).toEqual(["dump.txt", "truth.json"]);
  });

  it("rejects a bad count, seed or format", async () => {
    await expect(run("gen", "12x")).rejects.toBeInstanceOf(UsageError);
    await expect(run("gen", "10", "--seed", "-1")).rejects.toThrow();
    await expect(run("gen", "10", "--format", "json")).rejects.toThrow();
  });

  it("an unwritable output is one clear error and leaves nothing behind", async () => {
    const out = join(dir, "missing", "dump.txt");
    await expect(run("gen", "10", "-o", out)).rejects.toThrow(`cannot write ${out}: no such file or directory`);
    expect(existsSync(join(dir, "missing"))).toBe(false);
  });

  it("parses counts with suffixes", () => {
    expect(parseCount("250000")).toBe(250000);
    expect(parseCount("250k")).toBe(250000);
    expect(parseCount("1M")).toBe(1000000);
    expect(parseCount("1e6")).toBe(1000000);
    expect(parseCount("1.5k")).toBe(1500);
    expect(() => parseCount("1.5")).toThrow(UsageError);
    expect(() => parseCount("-3")).toThrow(UsageError);
  });
});
