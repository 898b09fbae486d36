/**
 * The one place that chooses the backend. `--backend auto|native|ts` or CTSCOPE_BACKEND forces one;
 * auto uses the addon when it loads and the TS tokenizer otherwise. When the addon cannot load,
 * every path tried and its error are kept for `ctscope doctor`.
 */
import { BackendError, UsageError } from "../errors.js";
import { KEY_BYTES, VALUE_FIELDS } from "../parse/layout.js";
import { type LoadAttempt, loadAddon } from "./addon.js";
import type { Backend, BackendChoice, BackendName, TableMerge } from "./contract.js";
import { encodeCidrs } from "./filter.js";
import { tsBackend } from "./ts-backend.js";

export { type LoadAttempt, type NativeAddon, nativeAddon, PACKAGE_ROOT } from "./addon.js";

export interface BackendInfo {
  active: BackendName;
  requested: BackendChoice;
  addonPath: string | null;
  /** Every path tried when the addon did not load (empty when it did, or when ts was forced). */
  tried: LoadAttempt[];
  loadError: string | null;
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
      size: () => m.size(),
      expect(classes) {
        if (Number.isSafeInteger(classes) && classes > 0) m.expect(classes);
      },
      take: () => m.take(),
      dimensions: (local, traffic) => m.dimensions(local.mode === "inferred", encodeCidrs(local.cidrs), traffic),
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
    topCandidates: (count, rank, n) => {
      if (!(count instanceof Float64Array) || !(rank instanceof Float64Array) || rank.length < count.length) {
        throw new TypeError("topCandidates: count and rank must be Float64Arrays, rank at least as long as count");
      }
      if (!Number.isInteger(n) || n < 0) throw new RangeError("topCandidates: n must be a whole number");
      return n === 0 ? new Int32Array(0) : addon.topCandidates(count, rank, n);
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
