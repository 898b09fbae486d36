/**
 * The execArgv of ctscope's worker threads (scan pool, live sampler). Compiled, none is given: a
 * worker then inherits the main thread's options as Node parsed them. An explicit list is checked
 * instead, and V8 options in it (`node --max-old-space-size=8192 ctscope analyze huge.txt`) make
 * the worker's constructor throw. Run from the TS sources (tests, tsx), workers need the loader.
 */
export function workerExecArgv(moduleUrl: string): string[] | undefined {
  if (!moduleUrl.endsWith(".ts")) return undefined;
  return [...process.execArgv.filter((a) => !a.startsWith("--import")), "--import", "tsx"];
}
