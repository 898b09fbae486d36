/**
 * Finds and loads the native addon, once per thread: CTSCOPE_ADDON_PATH when set, else the build
 * directories and prebuilds, keeping every path tried and its error. Light on imports, so that a
 * one-shot live snapshot can start its kernel dump before the rest of ctscope has loaded.
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../errors.js";
import type { ChunkAggregate, CompiledFilter } from "./contract.js";
import type { Dimensions } from "./dimensions.js";

const require = createRequire(import.meta.url);

/** The addon's exports (native/addon.cc). */
export interface NativeAddon {
  /** Hands the TS error classes to this addon instance (per thread). */
  setErrorClasses(classes: { InputError: typeof InputError }): void;
  scanBuffer(bytes: Uint8Array, start: number, end: number, filter: CompiledFilter): ChunkAggregate;
  scanFile(path: string, start: number, end: number, filter: CompiledFilter): ChunkAggregate;
  /** Whether this instance's scans keep their table's memory for the next scan (pool workers). */
  keepScanMemory(keep: boolean): void;
  /** Frees what the last scan kept. */
  dropScanMemory(): void;
  /** Layout constants compiled into the addon, to check against src/parse/layout.ts. */
  layout(): Record<string, number>;
  /** An incremental merge; add() arguments are checked by the caller (whole keys, VALUE_FIELDS values per key). */
  MergeTable: new () => {
    add(keys: Uint8Array, values: Float64Array): void;
    size(): number;
    /** classes: checked by the caller (a positive safe integer). */
    expect(classes: number): void;
    take(): { keys: Uint8Array; values: Float64Array };
    dimensions(inferred: boolean, cidrs: Uint8Array, traffic: boolean): Dimensions;
  };
  /** Arguments checked by the caller: exactly n keys and n * VALUE_FIELDS values; cidrs as encodeCidrs. */
  buildDimensions(keys: Uint8Array, values: Float64Array, inferred: boolean, cidrs: Uint8Array, traffic: boolean): Dimensions;
  topCandidates(count: Float64Array, rank: Float64Array, n: number): Int32Array;
}

export interface LoadAttempt {
  path: string;
  error: string;
}

/** Package root: dist/engine/ or src/engine/ → two levels up. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

let cached: { addon: NativeAddon | null; path: string | null; tried: LoadAttempt[] } | undefined;

function candidates(): string[] {
  const out = [join(PACKAGE_ROOT, "build", "Release", "ctscope.node"), join(PACKAGE_ROOT, "build", "Debug", "ctscope.node")];
  const pre = join(PACKAGE_ROOT, "prebuilds", `${process.platform}-${process.arch}`);
  if (existsSync(pre)) {
    for (const f of readdirSync(pre)) if (f.endsWith(".node")) out.push(join(pre, f));
  } else {
    out.push(join(pre, "*.node"));
  }
  return out;
}

export function loadAddon(): { addon: NativeAddon | null; path: string | null; tried: LoadAttempt[] } {
  if (cached) return cached;
  const tried: LoadAttempt[] = [];
  if (process.env.CTSCOPE_ADDON_PATH) {
    // For tests and packagers: one explicit path, nothing else.
    const p = resolve(process.env.CTSCOPE_ADDON_PATH);
    try {
      const addon = require(p) as NativeAddon;
      addon.setErrorClasses({ InputError });
      cached = { addon, path: p, tried };
    } catch (err) {
      tried.push({ path: p, error: oneLine(err) });
      cached = { addon: null, path: null, tried };
    }
    return cached;
  }
  for (const p of candidates()) {
    if (!existsSync(p)) {
      tried.push({ path: p, error: "not found (run `npm run build:native`)" });
      continue;
    }
    try {
      const addon = require(p) as NativeAddon;
      if (typeof addon.scanBuffer !== "function") throw new Error("not a ctscope addon (no scanBuffer export)");
      // A build from older sources (not rebuilt after an update) would fail later, mid-analysis.
      if (typeof addon.MergeTable?.prototype?.dimensions !== "function" || typeof addon.dropScanMemory !== "function") {
        throw new Error("built from older ctscope sources: rebuild it with `npm run build:native`");
      }
      addon.setErrorClasses({ InputError });
      cached = { addon, path: p, tried };
      return cached;
    } catch (err) {
      tried.push({ path: p, error: oneLine(err) });
    }
  }
  cached = { addon: null, path: null, tried };
  return cached;
}

function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .split("\n")[0]!
    .trim();
}

/** The raw addon, for tests and `doctor`; null when it does not load. */
export function nativeAddon(): NativeAddon | null {
  return loadAddon().addon;
}
