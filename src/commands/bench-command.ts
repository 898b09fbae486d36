/** `ctscope bench` on the command line; the benchmark itself (./bench.js) loads only when it runs. */
import { type Command, Option } from "@commander-js/extra-typings";
import { UsageError } from "../errors.js";
import { GEN_FORMATS, type GenFormat } from "../gen/model.js";

/** Registers `ctscope bench`. */
export function registerBench(program: Command): void {
  program
    .command("bench")
    .description("benchmark the backends (native vs TS vs wc -l) and whole runs (vs awk and a naive script) on generated dumps")
    .option("--dir <path>", "cache directory for generated dumps", ".bench")
    .addOption(new Option("--format <name>", "format of the generated dumps").choices(GEN_FORMATS).default("proc" as GenFormat))
    .option("--big", "add the 10M-entry (~2 GB) whole-process run", false)
    .option("--quick", "100k entries only, few iterations (a smoke run)", false)
    .option(
      "--runs <n>",
      "whole-process repetitions (median reported)",
      (v) => {
        if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 100)
          throw new UsageError(`--runs must be a whole number from 1 to 100 (got "${v}")`);
        return Number(v);
      },
      3,
    )
    .option("--no-scan", "skip the backend throughput part")
    .option("--no-process", "skip the whole-process part")
    .option("--markdown", "print the tables as Markdown", false)
    .option("--json", "print the report as JSON", false)
    .action(async (opts) => {
      if (opts.markdown && opts.json) throw new UsageError("--markdown and --json are exclusive");
      // Loaded here: the benchmark and the generator are no part of any other command.
      const { runBench, renderMarkdown, renderText } = await import("./bench.js");
      const report = await runBench({
        dir: opts.dir,
        format: opts.format as GenFormat,
        big: opts.big,
        quick: opts.quick,
        runs: opts.runs,
        scan: opts.scan,
        process: opts.process,
      });
      const text = opts.json ? `${JSON.stringify(report, null, 2)}\n` : opts.markdown ? renderMarkdown(report) : renderText(report);
      process.stdout.write(text);
    });
}
