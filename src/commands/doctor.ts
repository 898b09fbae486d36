import type { Command } from "@commander-js/extra-typings";
import { defaultThreads } from "../engine/analyze.js";
import { backendInfo } from "../engine/backend.js";
import { probeSource, SOURCE_LABELS, SOURCE_ORDER } from "../live/sources.js";
import { VERSION } from "../version.js";

/**
 * Registers `ctscope doctor`: which backend runs, where the addon is, why it did not load, and
 * which live sources `analyze --live` can use on this host (and what each one that cannot lacks).
 */
export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("show the backend in use, the addon path (every path tried when it did not load) and the live sources")
    .option("--json", "machine-readable output")
    .action(async (opts) => {
      const info = backendInfo();
      const live = await Promise.all(SOURCE_ORDER.map((name) => probeSource(name)));
      if (opts.json) {
        const sources = live.map((p) => ({ name: p.name, ok: p.ok, ...(p.reason ? { reason: p.reason } : {}) }));
        process.stdout.write(
          `${JSON.stringify({ version: VERSION, node: process.version, threads: defaultThreads(), ...info, live: sources }, null, 2)}\n`,
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
      const first = live.find((p) => p.ok);
      lines.push(`live sources (analyze --live${first ? ` uses ${first.name}` : ": none works here"}):`);
      for (const p of live)
        lines.push(`  ${p.name.padEnd(9)} ${p.ok ? "ok" : "no"}  ${SOURCE_LABELS[p.name]}${p.ok ? "" : `: ${p.reason}`}`);
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
