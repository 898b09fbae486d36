/**
 * `npx tsx bench/run.ts [ctscope bench options]`: the same benchmark as `npm run bench`, straight
 * from the TypeScript sources (no build needed for the backend part; the whole-process part runs
 * bin/ctscope.js, which needs `npm run build`).
 */
import { buildProgram } from "../src/cli.js";

await buildProgram().parseAsync(["node", "ctscope", "bench", ...process.argv.slice(2)]);
