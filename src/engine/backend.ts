/**
 * The one place that chooses the backend. `--backend auto|native|ts` or CTSCOPE_BACKEND forces one;
 * auto uses the addon when it loads and the TS tokenizer otherwise. When the addon cannot load,
 * every path tried and its error are kept for `ctscope doctor`.
 */
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BackendError, InputError, UsageError } from "../errors.js";

import { KEY_BYTES, VALUE_FIELDS } from "../parse/layout.js";
import type { Backend, BackendChoice, BackendName, ChunkAggregate, CompiledFilter, TableMerge } from "./contract.js";
import type { Dimensions } from "./dimensions.js";
import { encodeCidrs } from "./filter.js";
import { tsBackend } from "./ts-backend.js";

const require = createRequire(import.meta.url);

/** The addon's exports (native/addon.cc). */
export interface NativeAddon {
  /** Hands the TS error classes to this addon instance (per thread). */
  setErrorClasses(classes: { InputError: typeof InputError }): void;
  scanBuffer(bytes: Uint8Array, start: number, end: number, filter: CompiledFilter): ChunkAggregate;
  scanFile(path: string, start: number, end: number, filter: CompiledFilter): ChunkAggregate;
  /** Layout constants compiled into the addon, to check against src/parse/layout.ts. */
  layout(): Record<string, number>;
  /** An incremental merge; add() arguments are checked by the caller (whole keys, VALUE_FIELDS values per key). */
  MergeTable: new () => TableMerge;
  /** Arguments checked by the caller: exactly n keys and n * VALUE_FIELDS values; cidrs as encodeCidrs. */
  buildDimensions(keys: Uint8Array, values: Float64Array, inferred: boolean, cidrs: Uint8Array, traffic: boolean): Dimensions;
}

export interface LoadAttempt {
  path: string;
  error: string;
}

export interface BackendInfo {
  active: BackendName;
  requested: BackendChoice;
  addonPath: string | null;
  /** Every path tried when the addon did not load (empty when it did, or when ts was forced). */
  tried: LoadAttempt[];
  loadError: string | null;
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

function loadAddon(): { addon: NativeAddon | null; path: string | null; tried: LoadAttempt[] } {
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

export function requestedBackend(choice?: BackendChoice): BackendChoice {
  if (choice && choice !== "auto") return choice;
  const env = process.env.CTSCOPE_BACKEND;
  if (env === undefined || env === "" || env === "auto") return choice ?? "auto";
  if (env === "native" || env === "ts") return env;
  throw new UsageError(`CTSCOPE_BACKEND must be auto, native or ts (got "${env}")`);
}

export function backendInfo(choice?: BackendChoice): BackendInfo {
  const requested = requestedBackend(choice);
  if (requested === "ts") return { active: "ts", requested, addonPath: null, tried: [], loadError: null };
  const { addon, path, tried } = loadAddon();
  const loadError = addon ? null : tried.map((t) => `${t.path}: ${t.error}`).join("; ");
  return { active: addon ? "native" : "ts", requested, addonPath: path, tried: addon ? [] : tried, loadError };
}

/** The backend for this thread. Throws BackendError when native is required but cannot load. */
export function getBackend(choice?: BackendChoice): Backend {
  const requested = requestedBackend(choice);
  if (requested === "ts") return tsBackend;
  const { addon, tried } = loadAddon();
  if (!addon) {
    if (requested === "native") {
      throw new BackendError(
        `the native backend is required but did not load; tried ${tried.map((t) => `${t.path} (${t.error})`).join(", ")}`,
      );
    }
    return tsBackend;
  }
  const tableMerge = (): TableMerge => {
    const m = new addon.MergeTable();
    return {
      add(keys, values) {
        // Checked here so that a bad table fails the same way whichever backend merges.
        checkTable("tableMerge", keys, values, keys.length / KEY_BYTES);
        m.add(keys, values);
      },
      take: () => m.take(),
    };
  };
  return {
    name: "native",
    scanBuffer: (bytes, start, end, filter) => addon.scanBuffer(bytes, start, end, filter),
    scanFile: (path, start, end, filter) => addon.scanFile(path, start, end, filter),
    tableMerge,
    buildDimensions: (table, local, traffic) => {
      checkTable("buildDimensions", table.keys, table.values, table.size);
      return addon.buildDimensions(
        table.keys.subarray(0, table.size * KEY_BYTES),
        table.values.subarray(0, table.size * VALUE_FIELDS),
        local.mode === "inferred",
        encodeCidrs(local.cidrs),
        traffic,
      );
    },
  };
}

/** A flow-class table of n classes: whole keys and VALUE_FIELDS values each (the arrays may be longer). */
function checkTable(what: string, keys: Uint8Array, values: Float64Array, n: number): void {
  if (!(keys instanceof Uint8Array) || !(values instanceof Float64Array)) {
    throw new TypeError(`${what}: keys must be a Uint8Array and values a Float64Array`);
  }
  if (!Number.isInteger(n) || n < 0 || keys.length < n * KEY_BYTES || values.length < n * VALUE_FIELDS) {
    throw new RangeError(`${what}: keys and values describe different numbers of flow classes`);
  }
}

/** The raw addon, for tests and `doctor`; null when it does not load. */
export function nativeAddon(): NativeAddon | null {
  return loadAddon().addon;
}
