import type { Command } from "@commander-js/extra-typings";
import { defaultThreads } from "../engine/analyze.js";
import { backendInfo } from "../engine/backend.js";
import { VERSION } from "../version.js";

/** Registers `ctscope doctor`: which backend runs, where the addon is, and why it did not load. */
export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("show the backend in use, the addon path, and every path tried when the native addon did not load")
    .option("--json", "machine-readable output")
    .action((opts) => {
      const info = backendInfo();
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify({ version: VERSION, node: process.version, threads: defaultThreads(), ...info }, null, 2)}\n`,
        );
        return;
      }
      const lines = [
        `ctscope ${VERSION} on Node ${process.version} (${process.platform}-${process.arch}), ${defaultThreads()} threads by default`,
        `backend: ${info.active}${info.requested !== "auto" ? ` (forced: ${info.requested})` : " (auto)"}`,
      ];
      if (info.addonPath) lines.push(`addon:   ${info.addonPath}`);
      if (info.active === "ts" && info.requested !== "ts") {
        lines.push("native addon did not load; paths tried:");
        for (const t of info.tried) lines.push(`  ${t.path}: ${t.error}`);
        lines.push("build it with `npm run build:native` (needs python3, make and a C++ compiler)");
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
