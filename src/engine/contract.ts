/**
 * The one contract both backends implement: bytes of one chunk in, one compact aggregate out.
 * Everything crosses as typed arrays; no object per conntrack entry.
 */

import type { Dimensions, LocalSpec } from "./dimensions.js";
import type { MergedTable } from "./merge.js";

/** Result of scanning one chunk. Layout constants are in src/parse/layout.ts. */
export interface ChunkAggregate {
  /** COUNTER_FIELDS counters (C_*). */
  counters: Float64Array;
  /** HIST_FIELDS buckets: all entries, then TCP ESTABLISHED. */
  hist: Float64Array;
  /** n * KEY_BYTES bytes: the distinct flow classes, in first-seen order. */
  keys: Uint8Array;
  /** n * VALUE_FIELDS values (V_*), same order as keys. */
  values: Float64Array;
  /** 0-based line numbers (within the chunk) of the first MALFORMED_SAMPLES malformed lines. */
  malformedLines: number[];
  /** Their text as latin1, cut at MALFORMED_SAMPLE_BYTES bytes, line ending removed. */
  malformedText: string[];
}

/**
 * Filters, compiled once in TS and applied by either backend before aggregation.
 * An empty (length 0) mask or list means "no filter on this field".
 */
export interface CompiledFilter {
  /** 256 bytes, 1 = keep this l4 protocol number. */
  protoMask: Uint8Array;
  /** STATE_COUNT bytes, 1 = keep this state enum. */
  stateMask: Uint8Array;
  /** 65536 bytes, 1 = keep when the original sport or dport is this port. */
  portMask: Uint8Array;
  /** n * 18 bytes: [family (4|6), prefix length, 16 address bytes]; keep when the original src is in any. */
  src: Uint8Array;
  /** Same for the original dst. */
  dst: Uint8Array;
}

export const CIDR_BYTES = 18;

export function emptyFilter(): CompiledFilter {
  return {
    protoMask: new Uint8Array(0),
    stateMask: new Uint8Array(0),
    portMask: new Uint8Array(0),
    src: new Uint8Array(0),
    dst: new Uint8Array(0),
  };
}

/** Whether a compiled filter keeps every entry. */
export function isEmptyFilter(f: CompiledFilter): boolean {
  return f.protoMask.length + f.stateMask.length + f.portMask.length + f.src.length + f.dst.length === 0;
}

/** An incremental merge of chunk tables. */
export interface TableMerge {
  add(keys: Uint8Array, values: Float64Array): void;
  /** Classes merged so far. */
  size?(): number;
  /** A guess at the final number of classes: the table's index grows to it at once instead of doubling its way there. */
  expect?(classes: number): void;
  /** Everything added since the last take(), merged; the merge starts empty again. */
  take(): { keys: Uint8Array; values: Float64Array };
  /**
   * The Dimensions of everything added since the last take(), built without handing the merged
   * table over (its memory is freed while they are built); the merge starts empty again.
   */
  dimensions?(local: LocalSpec, traffic: boolean): Dimensions;
}

/**
 * What a worker is asked to scan. keepMemory: more tasks are likely to follow on the same worker,
 * so the native backend keeps this scan's table memory for the next one (otherwise it is freed
 * when the scan ends).
 */
export type ScanTask =
  /** A byte range of a regular file: the worker reads (or maps) it itself. */
  | { kind: "range"; path: string; start: number; end: number; filter: CompiledFilter; backend: BackendChoice; keepMemory?: boolean }
  /** A block of a stream (stdin, gzip, /proc): bytes travel with the task. */
  | { kind: "bytes"; bytes: Uint8Array; filter: CompiledFilter; backend: BackendChoice; keepMemory?: boolean };

export type BackendName = "native" | "ts";
export type BackendChoice = "auto" | BackendName;

/** A backend: one implementation of the contract. */
export interface Backend {
  readonly name: BackendName;
  /** Scan whole lines in bytes[start, end). */
  scanBuffer(bytes: Uint8Array, start: number, end: number, filter: CompiledFilter): ChunkAggregate;
  /** Scan whole lines of a regular file in [start, end); the range is already newline-aligned. */
  scanFile(path: string, start: number, end: number, filter: CompiledFilter): ChunkAggregate;
  /**
   * A merge of chunks' flow-class tables, one chunk at a time as they arrive: keys in first-seen
   * order, counts, packets and bytes summed, the largest timeout kept. Optional: without it the
   * merge runs in TS (src/engine/flowtable.ts).
   */
  tableMerge?(): TableMerge;
  /**
   * The dimensions of a merged table: ids per address, prefix, service, remote+service+state, and
   * their sums. Optional: without it they are built in TS (src/engine/dimensions.ts), equal in every field.
   */
  buildDimensions?(table: MergedTable, local: LocalSpec, traffic: boolean): Dimensions;
  /**
   * The ids that can be among the top n of a dimension's counts (src/engine/top.ts). Optional:
   * without it they are picked in TS, the same ids.
   */
  topCandidates?(count: Float64Array, rank: Float64Array, n: number): Int32Array;
}
