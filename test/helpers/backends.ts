/**
 * The backends engine tests run on: always the TS tokenizer, plus the native addon when it loads.
 * CI sets CTSCOPE_REQUIRE_NATIVE=1 so that a missing or broken addon fails instead of being skipped.
 */
import { backendInfo, nativeAddon } from "../../src/engine/backend.js";

export type TestBackend = "ts" | "native";

function available(): TestBackend[] {
  const out: TestBackend[] = ["ts"];
  if (nativeAddon()) {
    out.push("native");
    console.log("backends under test: ts, native");
    return out;
  }
  const reason = backendInfo("native").loadError ?? "unknown reason";
  if (process.env.CTSCOPE_REQUIRE_NATIVE === "1") {
    throw new Error(`CTSCOPE_REQUIRE_NATIVE=1 but the native addon did not load: ${reason}`);
  }
  console.log(`backends under test: ts only (native addon not loaded: ${reason})`);
  return out;
}

/** Evaluated once per test file (each file runs in its own process). */
export const BACKENDS: TestBackend[] = available();
