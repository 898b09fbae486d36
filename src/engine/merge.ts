/** Where per-chunk aggregates become one table: sums per flow class, counters, histograms. */
import { C_LINES, COUNTER_FIELDS, HIST_FIELDS, KEY_BYTES, MALFORMED_SAMPLES } from "../parse/layout.js";
import type { ChunkAggregate } from "./contract.js";
import { FlowTable } from "./flowtable.js";
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

export class Merger {
  readonly table = new FlowTable(4096);
  readonly counters = new Float64Array(COUNTER_FIELDS);
  readonly hist = new Float64Array(HIST_FIELDS);
  private readonly chunks: ChunkLines[] = [];

  /** order: position of the chunk within its source, for line numbering. */
  add(source: number, order: number, agg: ChunkAggregate): void {
    for (let i = 0; i < COUNTER_FIELDS; i++) this.counters[i]! += agg.counters[i]!;
    for (let i = 0; i < HIST_FIELDS; i++) this.hist[i]! += agg.hist[i]!;
    this.table.mergeFrom(agg.keys, agg.values, agg.keys.length / KEY_BYTES);
    this.chunks.push({
      source,
      order,
      lines: agg.counters[C_LINES]!,
      malformedLines: agg.malformedLines,
      malformedText: agg.malformedText,
    });
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
