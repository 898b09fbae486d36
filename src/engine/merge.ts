/** Where per-chunk aggregates become one table: sums per flow class, counters, histograms. */
import { C_LINES, COUNTER_FIELDS, HIST_FIELDS, KEY_BYTES, MALFORMED_SAMPLES } from "../parse/layout.js";
import type { Backend, ChunkAggregate, TableMerge } from "./contract.js";
import { buildDimensions, type Dimensions, type LocalSpec } from "./dimensions.js";
import { FlowTable } from "./flowtable.js";
import { releaseBuffers } from "./transfer.js";
import type { MalformedSample } from "./types.js";

interface ChunkLines {
  source: number;
  order: number;
  lines: number;
  malformedLines: number[];
  malformedText: string[];
}

/**
 * Samples shown. Never more than one chunk keeps (MALFORMED_SAMPLES): the first N malformed lines
 * overall are then always available, so the result does not depend on how the input was cut.
 */
export const MAX_MALFORMED_SHOWN = MALFORMED_SAMPLES;

/** Merged flow classes: n classes, KEY_BYTES keys and VALUE_FIELDS values each, first-seen order. */
export interface MergedTable {
  size: number;
  keys: Uint8Array;
  values: Float64Array;
}

export class Merger {
  /** The TS merge's table; unused when the backend merges. */
  private readonly tsTable: FlowTable;
  /** The backend's incremental merge (native), when it has one. */
  private readonly native: TableMerge | null;
  private merged: MergedTable | null = null;
  /** The native merge built the dimensions from its own table: there is no table to read any more. */
  private consumed = false;
  /** merged is the first chunk's arrays, never handed out by `table`. */
  private mergedIsChunk = false;
  readonly counters = new Float64Array(COUNTER_FIELDS);
  readonly hist = new Float64Array(HIST_FIELDS);
  private readonly chunks: ChunkLines[] = [];
  /** Chunks the caller plans to add (0: unknown). */
  private plannedChunks = 0;
  /** Classes of the first chunk, when it went into the native merge as it arrived. */
  private firstSize = 0;

  /**
   * backend: with its tableMerge (native) each chunk is summed in native memory as it arrives, and
   * handed over once when the table is first read; without it, into a TS table. buildSnapshot
   * uses its buildDimensions and topCandidates when it has them.
   * releaseChunks: the chunks' keys and values belong to the merger, which frees them as soon as
   * they are summed (see releaseBuffers); the caller must not read them after add().
   */
  constructor(
    readonly backend?: Pick<Backend, "tableMerge" | "buildDimensions" | "topCandidates">,
    private readonly releaseChunks = false,
  ) {
    this.native = backend?.tableMerge?.() ?? null;
    this.tsTable = new FlowTable(this.native ? 16 : 4096);
  }

  /**
   * How many chunks will be added in all: after the second, the native merge grows its table's
   * index once to about the size it will reach, instead of doubling (and rehashing millions of
   * classes) its way there.
   */
  planChunks(n: number): void {
    this.plannedChunks = n;
  }

  /** order: position of the chunk within its source, for line numbering. */
  add(source: number, order: number, agg: ChunkAggregate): void {
    for (let i = 0; i < COUNTER_FIELDS; i++) this.counters[i]! += agg.counters[i]!;
    for (let i = 0; i < HIST_FIELDS; i++) this.hist[i]! += agg.hist[i]!;
    if (this.native) {
      if (this.chunks.length === 0 && this.plannedChunks < 2) {
        // A chunk's classes are already distinct and in first-seen order: alone, it is the merged table.
        this.merged = { size: agg.keys.length / KEY_BYTES, keys: agg.keys, values: agg.values };
        this.mergedIsChunk = true;
      } else if (this.chunks.length === 0) {
        // More chunks follow: summed now, while the other workers still scan, rather than after the last.
        this.native.add(agg.keys, agg.values);
        if (this.releaseChunks) releaseBuffers([agg.keys, agg.values]);
        this.firstSize = agg.keys.length / KEY_BYTES;
      } else {
        // Read already, or the first chunk: the merge goes on from that table.
        const first = this.merged?.size ?? this.firstSize;
        if (this.merged) {
          this.native.add(this.merged.keys, this.merged.values);
          // Only a first chunk of the caller's is theirs to free; a table read from the merge is not.
          if (this.releaseChunks && this.mergedIsChunk) releaseBuffers([this.merged.keys, this.merged.values]);
        }
        this.merged = null;
        this.native.add(agg.keys, agg.values);
        if (this.releaseChunks) releaseBuffers([agg.keys, agg.values]);
        if (this.chunks.length === 1 && this.plannedChunks > 2 && this.native.size && this.native.expect) {
          // Each chunk still to come brings about as many new classes as the second did: none
          // when the chunks repeat one table, a chunk's worth when they split a big one.
          const merged = this.native.size();
          this.native.expect(merged + Math.max(0, merged - first) * (this.plannedChunks - 2));
        }
      }
    } else {
      this.tsTable.mergeFrom(agg.keys, agg.values, agg.keys.length / KEY_BYTES);
      if (this.releaseChunks) releaseBuffers([agg.keys, agg.values]);
    }
    this.chunks.push({
      source,
      order,
      lines: agg.counters[C_LINES]!,
      malformedLines: agg.malformedLines,
      malformedText: agg.malformedText,
    });
  }

  /**
   * The dimensions of the merged table for this local side. With the native merge, and a table
   * nobody has read, they are built from the merge's own memory: the merged keys and values never
   * go to JS and are freed while the dimensions are built. The table cannot be read afterwards.
   */
  dimensions(local: LocalSpec, traffic: boolean): Dimensions {
    if (this.native?.dimensions && !this.merged && !this.consumed) {
      this.consumed = true;
      return this.native.dimensions(local, traffic);
    }
    return (this.backend?.buildDimensions ?? buildDimensions)(this.table, local, traffic);
  }

  /** The merged flow classes so far. */
  get table(): MergedTable {
    if (this.consumed) throw new Error("Merger: the merged table went into its dimensions and cannot be read");
    // Handed out: from now on it is the reader's as much as the merger's.
    this.mergedIsChunk = false;
    if (!this.native) return { size: this.tsTable.size, keys: this.tsTable.keys, values: this.tsTable.values };
    if (!this.merged) {
      const m = this.native.take();
      this.merged = { size: m.keys.length / KEY_BYTES, keys: m.keys, values: m.values };
    }
    return this.merged;
  }

  /** The first malformed lines of all sources, with 1-based line numbers within their source. */
  malformedSamples(sourceNames: string[], limit = MAX_MALFORMED_SHOWN): MalformedSample[] {
    const sorted = [...this.chunks].sort((a, b) => a.source - b.source || a.order - b.order);
    const out: MalformedSample[] = [];
    let source = -1;
    let lineBase = 0;
    for (const c of sorted) {
      if (c.source !== source) {
        source = c.source;
        lineBase = 0;
      }
      for (let i = 0; i < c.malformedLines.length && out.length < limit; i++) {
        out.push({ source: sourceNames[c.source] ?? "?", line: lineBase + c.malformedLines[i]! + 1, text: c.malformedText[i]! });
      }
      lineBase += c.lines;
    }
    return out;
  }
}
