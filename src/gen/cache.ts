/**
 * Generated dumps kept in a cache directory (.bench/ by default) for benchmarks: made once, reused
 * while the generator still produces the same bytes, never committed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateBuffer, writeDumpFile } from "./generate.js";
import type { GenFormat, GenTruth } from "./model.js";

export interface CachedDump {
  path: string;
  bytes: number;
  truth: GenTruth;
  /** False when the dump was already there. */
  created: boolean;
}

interface Sidecar {
  fingerprint: string;
  bytes: number;
  truth: GenTruth;
}

/** Changes whenever the generator's output changes, so stale dumps are remade. */
function fingerprint(seed: number, format: GenFormat, acct: boolean): string {
  return createHash("sha256")
    .update(generateBuffer({ n: 3000, seed, format, acct }))
    .digest("hex")
    .slice(0, 16);
}

export function dumpName(n: number, format: GenFormat, seed: number, acct: boolean): string {
  const size = n % 1_000_000 === 0 ? `${n / 1_000_000}m` : n % 1000 === 0 ? `${n / 1000}k` : String(n);
  return `gen-${size}-${format}${acct ? "-acct" : ""}-s${seed}.txt`;
}

/** The dump for these parameters in dir, generating it when missing or stale. */
export function ensureDump(dir: string, n: number, opts: { format?: GenFormat; seed?: number; acct?: boolean } = {}): CachedDump {
  const format = opts.format ?? "proc";
  const seed = opts.seed ?? 1;
  const acct = opts.acct ?? false;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, dumpName(n, format, seed, acct));
  const side = `${path}.json`;
  const fp = fingerprint(seed, format, acct);
  if (existsSync(path) && existsSync(side)) {
    try {
      const s = JSON.parse(readFileSync(side, "utf8")) as Sidecar;
      if (s.fingerprint === fp && statSync(path).size === s.bytes) return { path, bytes: s.bytes, truth: s.truth, created: false };
    } catch {
      // unreadable sidecar: regenerate
    }
  }
  const { bytes, truth } = writeDumpFile(path, { n, seed, format, acct });
  writeFileSync(side, `${JSON.stringify({ fingerprint: fp, bytes, truth } satisfies Sidecar)}\n`);
  return { path, bytes, truth, created: true };
}
