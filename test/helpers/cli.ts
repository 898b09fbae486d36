/**
 * Runs the built CLI (bin/ctscope.js imports dist/) as a child process, the way users run it.
 * `npm test` builds dist first; run `npx tsc -p tsconfig.build.json` before running a CLI test alone.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const BIN = join(ROOT, "bin", "ctscope.js");

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  input?: string | Buffer;
  env?: Record<string, string | undefined>;
  /** Run under another identity, e.g. ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]. */
  wrapper?: string[];
  /** Options for node itself, before the script (`node --max-old-space-size=... bin/ctscope.js`). */
  nodeArgs?: string[];
}

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

let checked = false;
/** Throws when dist/ is missing; warns once when it is older than src/. */
export function requireBuiltCli(): void {
  if (checked) return;
  checked = true;
  const cli = join(ROOT, "dist", "cli.js");
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npx tsc -p tsconfig.build.json\` first`);
  if (newestMtime(join(ROOT, "src")) > statSync(cli).mtimeMs + 1000) {
    console.log("cli tests: dist/ looks older than src/ (run `npx tsc -p tsconfig.build.json`)");
  }
}

/** Run `node bin/ctscope.js ...args` with stdout/stderr as pipes (never a TTY). */
export function runCli(args: string[], opts: CliOptions = {}): CliResult {
  requireBuiltCli();
  const env: Record<string, string> = {};
  // Colour is decided by the test, not inherited from the test runner.
  const base = { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined };
  for (const [k, v] of Object.entries({ ...base, ...opts.env })) {
    if (v !== undefined) env[k] = v;
  }
  const cmd = [...(opts.wrapper ?? []), process.execPath, ...(opts.nodeArgs ?? []), BIN, ...args];
  const r = spawnSync(cmd[0]!, cmd.slice(1), {
    cwd: ROOT,
    env,
    input: opts.input ?? "",
    encoding: "latin1",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A wrapper that runs a command as nobody, or null with the reason when impossible here. */
export function asNobody(): { wrapper: string[] } | { reason: string } {
  if (process.getuid?.() !== 0) return { reason: "not root: cannot switch to nobody" };
  for (const w of [
    ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
    ["runuser", "-u", "nobody", "--"],
  ]) {
    const probe = spawnSync(w[0]!, [...w.slice(1), "true"], { stdio: "ignore" });
    if (probe.status !== 0) continue;
    // The checkout must be reachable by nobody (a clone under a mode-700 directory is not).
    const reach = spawnSync(w[0]!, [...w.slice(1), "test", "-r", BIN], { stdio: "ignore" });
    if (reach.status !== 0) return { reason: `uid 65534 cannot read ${BIN} (a directory above it is not world-readable)` };
    return { wrapper: w };
  }
  return { reason: "neither setpriv nor runuser can switch to uid 65534" };
}
