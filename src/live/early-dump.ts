/**
 * A one-shot live snapshot spends most of its time in the kernel, formatting the table for the
 * ctnetlink dump (as long as `cat /proc/net/nf_conntrack`). bin/ctscope.js calls startEarlyDump()
 * before the rest of ctscope loads, so that the dump runs (off the main thread) while the modules
 * load and the command line is checked; the netlink scan then takes it instead of starting its own.
 *
 * Only for `analyze --live --once` without filters (the dump is then exactly the one the scan would
 * ask for) and with a source that may be netlink. Anything else, and the scan dumps as usual.
 */
import { nativeAddon } from "../engine/addon.js";
import { emptyFilter } from "../engine/contract.js";
import { encodeHostCidrs, hostAddresses } from "./host-addresses.js";
import type { NetlinkAddon, NetlinkAggregate } from "./netlink.js";

/** Options that change what the dump must hold, or where the table comes from. */
const DISQUALIFYING = ["--proto", "--state", "--src", "--dst", "--port", "--replay", "--help", "-h"];

/** A dump under way, and the local CIDRs it builds the dimensions for (undefined: none). */
export interface EarlyDump {
  dump: Promise<NetlinkAggregate>;
  localCidrs: Uint8Array | undefined;
}

let pending: EarlyDump | null = null;

/** Whether `args` (the command line after the script) asks for a one-shot live snapshot a plain dump serves. */
export function wantsEarlyDump(args: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  if (args[0] !== "analyze" || !args.includes("--live") || !args.includes("--once")) return false;
  if (env.CTSCOPE_BACKEND === "ts") return false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") return false;
    const name = a.includes("=") ? a.slice(0, a.indexOf("=")) : a;
    if (DISQUALIFYING.includes(name)) return false;
    if (name === "--source") {
      const value = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[i + 1];
      if (value !== "netlink" && value !== "auto") return false;
    }
  }
  return true;
}

/** Starts the dump when the command line is one it serves and the addon has ctnetlink; never throws. */
export function startEarlyDump(args: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  if (pending || !wantsEarlyDump(args, env)) return false;
  try {
    const addon = nativeAddon() as unknown as Partial<NetlinkAddon> | null;
    if (!addon || typeof addon.netlinkDump !== "function") return false;
    const localCidrs = hostLocalCidrs(args);
    const dump = addon.netlinkDump(emptyFilter(), localCidrs);
    // Failures (no permission, no module) surface when the scan takes it; never as unhandled.
    dump.catch(() => undefined);
    pending = { dump, localCidrs };
    return true;
  } catch {
    pending = null;
    return false;
  }
}

/**
 * The local side the scan will take when no --local is given: this host's addresses (as
 * scan.ts's localSpec encodes them), so that the dump builds the dimensions too. Undefined with
 * --local (the scan then builds them itself) or when the host has no address.
 */
function hostLocalCidrs(args: readonly string[]): Uint8Array | undefined {
  if (args.some((a) => a === "--local" || a.startsWith("--local="))) return undefined;
  try {
    const host = hostAddresses();
    return host.length > 0 ? (encodeHostCidrs(host) ?? undefined) : undefined;
  } catch {
    return undefined; // the dump still starts; the scan builds the dimensions
  }
}

/** The dump started early, once; null when there is none (the caller dumps itself). */
export function takeEarlyDump(): EarlyDump | null {
  const p = pending;
  pending = null;
  return p;
}
