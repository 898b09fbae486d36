#!/usr/bin/env node
// A one-shot live snapshot starts its kernel dump first, so that it runs while the rest loads.
import { startEarlyDump } from "../dist/live/early-dump.js";

startEarlyDump(process.argv.slice(2));
const { main } = await import("../dist/cli.js");

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    // main() already maps known errors to exit codes; anything reaching here is a bug.
    process.stderr.write(`ctscope: internal error: ${err?.stack ?? err}\n`);
    process.exitCode = 70;
  },
);
