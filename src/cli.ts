/** The command line: `ctscope analyze|check|gen|bench|doctor`. Errors become one line and an exit code. */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { registerAnalyze } from "./commands/analyze.js";
import { registerBench } from "./commands/bench-command.js";
import { registerCheck } from "./commands/check.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerGen } from "./commands/gen.js";
import { CtscopeError } from "./errors.js";
import { VERSION } from "./version.js";

export function buildProgram(): Command {
  const program = new Command()
    .name("ctscope")
    .description("Analyze Linux conntrack tables: what fills the table, why, and the exact commands that fix it.")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.startsWith("error:") ? `ctscope: ${str.slice(7)}` : str) });
  registerAnalyze(program);
  registerCheck(program);
  registerGen(program);
  registerBench(program);
  registerDoctor(program);
  for (const cmd of program.commands) cmd.exitOverride();
  return program;
}

/** Runs the CLI and returns the exit code (see README: exit codes). */
export async function main(argv: string[]): Promise<number> {
  // Piping into `head` closes stdout early: that is not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successful exits; the message was already printed.
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return 0;
      // A monitoring plugin must answer UNKNOWN (3) for anything it cannot evaluate, bad options included.
      return argv[2] === "check" ? 3 : 2;
    }
    if (err instanceof CtscopeError) {
      process.stderr.write(`ctscope: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
