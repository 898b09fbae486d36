/**
 * Loading the native addon for the native-* tests, and comparing two chunk aggregates exactly.
 * Without the addon the tests are skipped with a printed reason, unless CTSCOPE_REQUIRE_NATIVE=1
 * (CI), where a missing addon is an error.
 */
import { backendInfo, type NativeAddon, nativeAddon } from "../../src/engine/backend.js";
import type { ChunkAggregate } from "../../src/engine/contract.js";
import { KEY_BYTES, VALUE_FIELDS } from "../../src/parse/layout.js";

/** The addon, or null (after printing why) when it is not built. */
export function loadNative(topic: string): NativeAddon | null {
  const addon = nativeAddon();
  if (addon) return addon;
  const reason = backendInfo("native").loadError ?? "unknown reason";
  if (process.env.CTSCOPE_REQUIRE_NATIVE === "1") {
    throw new Error(`CTSCOPE_REQUIRE_NATIVE=1 but the native addon did not load: ${reason}`);
  }
  console.log(`${topic}: skipped, the native addon is not built (${reason}); run \`npm run build:native\``);
  return null;
}

/** Path of the loaded addon file (for worker threads that require it themselves). */
export function nativePath(): string | null {
  return backendInfo("native").addonPath;
}

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (!Object.is(a[i], b[i])) return i;
  return a.length === b.length ? -1 : n;
}

function hex(keys: Uint8Array, i: number): string {
  return Buffer.from(keys.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES)).toString("hex");
}

/**
 * Differences between two aggregates, as readable lines (empty when they are identical, bit for
 * bit: counters, histograms, keys in order, values, malformed samples).
 */
export function aggregateDiff(actual: ChunkAggregate, expected: ChunkAggregate): string[] {
  const out: string[] = [];
  for (const field of ["counters", "hist", "values"] as const) {
    const d = firstDiff(actual[field], expected[field]);
    if (d >= 0) {
      const where = field === "values" ? ` (class ${Math.floor(d / VALUE_FIELDS)}, field ${d % VALUE_FIELDS})` : "";
      out.push(
        `${field}[${d}]${where}: ${actual[field][d]} != ${expected[field][d]} (lengths ${actual[field].length}, ${expected[field].length})`,
      );
    }
  }
  const k = firstDiff(actual.keys, expected.keys);
  if (k >= 0) {
    const i = Math.floor(k / KEY_BYTES);
    out.push(
      `keys: class ${i} differs (${actual.keys.length / KEY_BYTES} vs ${expected.keys.length / KEY_BYTES} classes): ${hex(actual.keys, i)} != ${hex(expected.keys, i)}`,
    );
  }
  if (JSON.stringify(actual.malformedLines) !== JSON.stringify(expected.malformedLines)) {
    out.push(`malformedLines: ${JSON.stringify(actual.malformedLines)} != ${JSON.stringify(expected.malformedLines)}`);
  }
  if (JSON.stringify(actual.malformedText) !== JSON.stringify(expected.malformedText)) {
    out.push(`malformedText: ${JSON.stringify(actual.malformedText)} != ${JSON.stringify(expected.malformedText)}`);
  }
  return out;
}
