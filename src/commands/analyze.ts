import { accessSync, constants } from "node:fs";
import { networkInterfaces } from "node:os";
import { type Command, Option } from "@commander-js/extra-typings";
import { type AnalyzeOptions, analyze, defaultThreads } from "../engine/analyze.js";
import type { Snapshot } from "../engine/types.js";
import { InputError, UsageError } from "../errors.js";
import { renderHuman } from "../report/human.js";
import { createProgress } from "../report/progress.js";
import { renderCsv, renderJson, renderNdjson } from "../report/serialize.js";

export const LIVE_TABLE = "/proc/net/nf_conntrack";

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function intOption(name: string, min: number, max: number): (v: string) => number {
  return (v: string) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
      throw new UsageError(`${name} must be a whole number from ${min} to ${max} (got "${v}")`);
    return Number(v);
  };
}

/** This host's interface addresses, as exact CIDRs. */
export function hostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push(`${a.address.split("%")[0]}/${a.family === "IPv4" ? 32 : 128}`);
  }
  return out;
}

/** Whether colour is wanted on this stream: a TTY, and NO_COLOR unset. */
export function useColor(stream: NodeJS.WriteStream): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== "0") return true;
  return stream.isTTY === true;
}

/** Shared by analyze and check: inputs, engine and filter options. */
export function addInputOptions<T extends Command<[string[]], Record<string, unknown>>>(cmd: T) {
  return cmd
    .option("--top <n>", "rows per top table", intOption("--top", 1, 100000), 10)
    .option("--threads <n>", "worker threads", intOption("--threads", 1, 256), defaultThreads())
    .addOption(
      new Option("--backend <name>", "tokenizer backend (env CTSCOPE_BACKEND)")
        .choices(["auto", "native", "ts"] as const)
        .default("auto" as const),
    )
    .option("--local <cidr>", "this host's address or CIDR (repeatable); default: inferred", collect)
    .option("--proto <name>", "keep only this l4 protocol (repeatable, comma list)", collect)
    .option("--state <name>", "keep only this state (repeatable, comma list)", collect)
    .option("--src <cidr>", "keep only entries whose original source is in CIDR (repeatable)", collect)
    .option("--dst <cidr>", "keep only entries whose original destination is in CIDR (repeatable)", collect)
    .option("--port <n>", "keep only entries with this original source or destination port (repeatable)", collect);
}

export interface InputOptionValues {
  top: number;
  threads: number;
  backend: "auto" | "native" | "ts";
  local?: string[];
  proto?: string[];
  state?: string[];
  src?: string[];
  dst?: string[];
  port?: string[];
}

/** Inputs as given, or the live table when none is given and it is readable. */
export function resolveInputs(inputs: string[]): { inputs: string[]; live: boolean } {
  if (inputs.length > 0) return { inputs, live: false };
  try {
    accessSync(LIVE_TABLE, constants.R_OK);
    return { inputs: [LIVE_TABLE], live: true };
  } catch (err) {
    const reason =
      (err as NodeJS.ErrnoException).code === "ENOENT"
        ? "does not exist (no conntrack module, or CONFIG_NF_CONNTRACK_PROCFS off)"
        : "is not readable (run as root)";
    throw new InputError(
      `no input given and ${LIVE_TABLE} ${reason}; pass a dump: \`ctscope analyze FILE\`, or \`conntrack -L -o extended | ctscope analyze -\``,
      LIVE_TABLE,
    );
  }
}

export function toAnalyzeOptions(inputs: string[], live: boolean, o: InputOptionValues): AnalyzeOptions {
  return {
    inputs,
    top: o.top,
    threads: o.threads,
    backend: o.backend,
    local: o.local,
    hostLocal: live ? hostAddresses() : undefined,
    proto: o.proto,
    state: o.state,
    src: o.src,
    dst: o.dst,
    port: o.port,
  };
}

export type OutputFormat = "table" | "json" | "ndjson" | "csv";

export function renderSnapshot(s: Snapshot, format: OutputFormat): string {
  switch (format) {
    case "json":
      return renderJson(s);
    case "ndjson":
      return renderNdjson(s);
    case "csv":
      return renderCsv(s);
    default:
      return renderHuman(s, { color: useColor(process.stdout) });
  }
}

/** Registers `ctscope analyze`. */
export function registerAnalyze(program: Command): void {
  const cmd = program
    .command("analyze")
    .description("analyze conntrack dumps (files, - for stdin, .gz) or, with no input, the live table")
    .argument("[inputs...]", "dump files; - reads stdin; .gz is decompressed");
  addInputOptions(cmd)
    .option("--json", "same as --format json")
    .addOption(new Option("--format <fmt>", "output format").choices(["table", "json", "ndjson", "csv"] as const).default("table" as const))
    .action(async (inputs, rawOpts) => {
      const opts = rawOpts as unknown as InputOptionValues & { json?: boolean; format: OutputFormat };
      const resolved = resolveInputs(inputs);
      const format: OutputFormat = opts.json ? "json" : opts.format;
      const progress = createProgress(process.stderr);
      let snapshot: Snapshot;
      try {
        snapshot = await analyze({ ...toAnalyzeOptions(resolved.inputs, resolved.live, opts), onProgress: progress.update });
      } finally {
        progress.done();
      }
      process.stdout.write(renderSnapshot(snapshot, format));
    });
}
