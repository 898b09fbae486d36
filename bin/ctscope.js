#!/usr/bin/env node
import { main } from "../dist/cli.js";

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
