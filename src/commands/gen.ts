import { writeFileSync } from "node:fs";
import { type Command, Option } from "@commander-js/extra-typings";
import { CtscopeError, describeErrno, UsageError } from "../errors.js";
import { GEN_FORMATS, type GenFormat, MAX_ENTRIES } from "../gen/model.js";

/** "250000", "250k", "1M", "1e6" → an entry count. */
export function parseCount(v: string): number {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)([kKmMgG]?)$/.exec(v.trim());
  const mult: Record<string, number> = { "": 1, k: 1e3, m: 1e6, g: 1e9 };
  const n = m ? Number(m[1]) * mult[m[2]!.toLowerCase()]! : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ENTRIES) {
    throw new UsageError(`entry count must be a whole number from 0 to ${MAX_ENTRIES}, optionally with k or M (got "${v}")`);
  }
  return n;
}

function parseSeed(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw new UsageError(`--seed must be a whole number from 0 to 4294967295 (got "${v}")`);
  return Number(v);
}

/** Runs a write, turning an fs error into one line naming the target. */
async function writing<T>(target: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === undefined || code === "EPIPE") throw err;
    throw new CtscopeError(`cannot write ${target}: ${describeErrno(err)}`);
  }
}

/** Registers `ctscope gen`. */
export function registerGen(program: Command): void {
  program
    .command("gen")
    .description(
      "write a realistic synthetic conntrack dump with planted anomalies (a dominant remote on port 5228, a SYN flood from 203.0.113.0/24, a DNS flood, an IPv6 remote); deterministic for a seed",
    )
    .argument("<N>", "number of entries (250000, 250k, 1M)", parseCount)
    .addOption(new Option("--format <name>", "output format").choices(GEN_FORMATS).default("proc" as GenFormat))
    .option("--seed <n>", "random seed", parseSeed, 1)
    .option("--acct", "include packets=/bytes= counters (nf_conntrack_acct=1)", false)
    .option("-o, --output <file>", "write to FILE (atomically: temporary file, then rename) instead of stdout")
    .option("--truth <file>", "also write the exact expected counts (JSON) to FILE")
    .action(async (n, opts) => {
      // Loaded here: other commands never need the generator.
      const { writeDumpFile, writeDumpStream } = await import("../gen/generate.js");
      const genOpts = { n, seed: opts.seed, format: opts.format as GenFormat, acct: opts.acct };
      const result = await writing(opts.output ?? "stdout", async () =>
        opts.output ? writeDumpFile(opts.output, genOpts) : await writeDumpStream(process.stdout, genOpts),
      );
      const truthFile = opts.truth;
      if (truthFile) await writing(truthFile, async () => writeFileSync(truthFile, `${JSON.stringify(result.truth, null, 2)}\n`));
      if (opts.output) process.stderr.write(`ctscope: wrote ${n} entries (${result.bytes} bytes) to ${opts.output}\n`);
    });
}
