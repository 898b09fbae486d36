/**
 * The addon's ctnetlink exports (native/netlink.cc): the table dump `conntrack -L` uses, the
 * global count and the per-CPU statistics, read straight from the kernel without a subprocess.
 */
import { nativeAddon } from "../engine/addon.js";
import type { ChunkAggregate, CompiledFilter } from "../engine/contract.js";
import type { Dimensions, LocalSpec } from "../engine/dimensions.js";
import { encodeCidrs } from "../engine/filter.js";

/** Per-CPU counters as `conntrack -S` names them. */
export type CpuStatsRow = { cpu: number } & Record<string, number>;

/**
 * A dump's aggregate. Given the local side's CIDRs, the addon also builds the table's dimensions
 * while the dump runs: exactly what buildDimensions gives for keys and values with those CIDRs
 * and traffic when the entries carried counters.
 */
export interface NetlinkAggregate extends ChunkAggregate {
  dimensions?: Dimensions;
}

export interface NetlinkAddon {
  /**
   * Dump the current network namespace's table, aggregated like its /proc text (runs off the main
   * thread). localCidrs: see localCidrBytes.
   */
  netlinkDump(filter: CompiledFilter, localCidrs?: Uint8Array): Promise<NetlinkAggregate>;
  /** The dump's raw datagrams, for recording fixtures. */
  netlinkDumpRaw(): Uint8Array;
  /** Aggregate recorded dump bytes (pure); perBuffer: that many messages at a time, as datagrams arrive. */
  netlinkParse(bytes: Uint8Array, filter: CompiledFilter, localCidrs?: Uint8Array, perBuffer?: number): NetlinkAggregate;
  /** nf_conntrack_count of the current namespace. */
  netlinkCount(): number;
  netlinkCpuStats(): CpuStatsRow[];
}

/** The local side as the dump takes it: encoded CIDRs, or undefined when it is inferred (from the whole table). */
export function localCidrBytes(local: LocalSpec): Uint8Array | undefined {
  return local.mode === "inferred" ? undefined : encodeCidrs(local.cidrs);
}

/** Whether two localCidrBytes results are the same local side. */
export function sameLocalCidrs(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** What the addon's netlink errors carry besides the message. */
export interface NetlinkErrorInfo {
  errno?: number;
  code?: string;
  step?: string;
  message: string;
}

/** The addon when it is loaded and built with the netlink exports; null otherwise. */
export function netlinkAddon(): NetlinkAddon | null {
  const a = nativeAddon() as unknown as Partial<NetlinkAddon> | null;
  if (!a || typeof a.netlinkDump !== "function" || typeof a.netlinkParse !== "function" || typeof a.netlinkCount !== "function") {
    return null;
  }
  return a as NetlinkAddon;
}

export function netlinkErrorInfo(err: unknown): NetlinkErrorInfo {
  const e = err as Partial<NetlinkErrorInfo> & { message?: string };
  return { errno: e?.errno, code: e?.code, step: e?.step, message: e?.message ?? String(err) };
}

/** One line saying why ctnetlink refused, and what would fix it. */
export function explainNetlinkError(err: unknown): string {
  const e = netlinkErrorInfo(err);
  switch (e.code) {
    case "EPERM":
    case "EACCES":
      return "ctnetlink refused the request: it needs CAP_NET_ADMIN (run as root, e.g. `sudo ctscope analyze --live`)";
    case "EPROTONOSUPPORT":
    case "EAFNOSUPPORT":
      return "the kernel has no netfilter netlink (nfnetlink): load it with `modprobe nf_conntrack_netlink`";
    case "EOPNOTSUPP":
    case "ENOENT":
      return "the kernel has no conntrack netlink interface: `modprobe nf_conntrack_netlink` (and nf_conntrack)";
    default:
      return `ctnetlink failed: ${e.message}`;
  }
}
