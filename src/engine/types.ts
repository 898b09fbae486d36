/**
 * The merged result of a scan: what the diagnosis and the renderers consume.
 * Aggregation happened on raw bytes; addresses here are already canonical text
 * (IPv4 dotted, IPv6 compressed per RFC 5952).
 */
import type { BackendName } from "./contract.js";
import type { FlowColumns } from "./flow-columns.js";

export type Dimension = "src" | "dst" | "remote" | "service" | "src_prefix" | "remote_service_state";
export const DIMENSIONS: readonly Dimension[] = ["src", "dst", "remote", "service", "src_prefix", "remote_service_state"];

export interface TopRow {
  key: string;
  count: number;
  /** count / entries, 0..1 */
  share: number;
  /** Present only when the input carried packets=/bytes= (accounting on). */
  packets?: number;
  bytes?: number;
  /** Entries of this key that are UNREPLIED. */
  unreplied: number;
  // Dimension-specific parts of the key.
  proto?: string;
  addr?: string;
  port?: number | null;
  state?: string | null;
  remote?: string;
}

export interface StateRow {
  proto: string;
  state: string | null;
  count: number;
  unreplied: number;
  assured: number;
  offload: number;
  /** Largest remaining timeout (seconds) among these entries; null when none carried one. */
  max_timeout: number | null;
}

export interface HistBucket {
  /** Inclusive lower bound in seconds. */
  from: number;
  /** Exclusive upper bound, null for the open last bucket. */
  to: number | null;
  count: number;
}

export interface MalformedSample {
  source: string;
  /** 1-based line number in that source. */
  line: number;
  /** Raw text (latin1), control characters not yet escaped. */
  text: string;
}

export interface LocalInfo {
  /** given: --local; host: this host's interfaces (live); inferred: in each entry the endpoint with more distinct peers (then more entries). */
  mode: "given" | "host" | "inferred";
  /** The CIDRs given, or the most frequent local addresses when inferred. */
  addresses: string[];
  explanation: string;
}

/** One flow class in canonical form, for rules that need more than the top tables. */
export interface FlowClass {
  family: 4 | 6;
  proto: number;
  protoName: string;
  state: string | null;
  unreplied: boolean;
  assured: boolean;
  offload: boolean;
  nat: boolean;
  src: string;
  dst: string;
  /** null for protocols without ports */
  dport: number | null;
  remote: string;
  /** The local endpoint (dst when neither endpoint is known to be local). */
  local: string;
  count: number;
  packets: number;
  bytes: number;
  /** Largest remaining timeout among its entries, -1 when none had one. */
  maxTimeout: number;
}

export interface Snapshot {
  schema_version: 1;
  backend: BackendName;
  sources: string[];
  /** Bytes of input read. */
  bytes: number;
  lines: number;
  entries: number;
  malformed: number;
  blank: number;
  ignored: number;
  /** [DESTROY] events: valid lines, not live entries. */
  destroyed: number;
  /** Valid entries excluded by the filters. */
  filtered: number;
  /** NEW/UPDATE event lines (counted in entries). */
  events: number;
  /** Entries carrying packets=/bytes=. */
  accounted: number;
  forms: { l3: number; plain: number; xml: number };
  malformed_samples: MalformedSample[];
  /** Problems with the input that did not stop the analysis, e.g. compressed data that ends early. */
  warnings: string[];
  by_family: Array<{ family: "ipv4" | "ipv6"; count: number }>;
  by_proto: Array<{ proto: string; count: number }>;
  by_state: StateRow[];
  unreplied: number;
  assured: number;
  offloaded: number;
  natted: number;
  timeouts: HistBucket[];
  /** Entries whose line carries no remaining timeout (offloaded entries in /proc, some events). */
  no_timeout: number;
  /** TCP ESTABLISHED only: reveals the established timeout and idle entries. */
  established_timeouts: HistBucket[];
  local: LocalInfo;
  /** Distinct keys per dimension (before the top-N cut). */
  distinct: Record<Dimension, number>;
  top: Record<Dimension, TopRow[]>;
  /** All flow classes (distinct src, dst, dport, proto, state, flags) as columns; not serialised. */
  flows: FlowColumns;
  /** The same classes as objects, built on first access; not serialised. */
  classes: FlowClass[];
  elapsed_ms: number;
}
