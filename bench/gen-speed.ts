/**
 * `npx tsx bench/gen-speed.ts [N] [format]`: how fast the generator produces bytes (no disk).
 * 10M proc entries must take well under a minute.
 */
import { generateChunks } from "../src/gen/generate.js";
import { GEN_FORMATS, type GenFormat } from "../src/gen/model.js";

const n = Number(process.argv[2] ?? 1_000_000);
const formats = process.argv[3] ? [process.argv[3] as GenFormat] : [...GEN_FORMATS];
for (const format of formats) {
  for (const acct of [false, true]) {
    const t0 = performance.now();
    let bytes = 0;
    for (const c of generateChunks({ n, seed: 1, format, acct })) bytes += c.length;
    const s = (performance.now() - t0) / 1000;
    console.log(
      `${format.padEnd(9)} ${acct ? "acct" : "    "} ${(bytes / n).toFixed(0).padStart(4)} B/line  ${(bytes / 1e6 / s).toFixed(0).padStart(4)} MB/s  ${(n / s / 1e6).toFixed(2)} M lines/s`,
    );
  }
}
