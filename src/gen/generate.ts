/**
 * Streams a generated dump as large Buffers. Output is byte-identical for the same
 * (n, seed, format, acct), whatever the chunk size or destination.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Writable } from "node:stream";
import { ByteWriter } from "./bytes.js";
import { Entry, EntryFactory } from "./entry.js";
import { EntryFormatter, MAX_LINE_BYTES, XML_FOOTER, XML_HEADER } from "./format.js";
import { type GenFormat, type GenTruth, MAX_ENTRIES, plantedTruth } from "./model.js";

export interface GenOptions {
  n: number;
  seed?: number;
  format?: GenFormat;
  acct?: boolean;
  /** Bytes per yielded chunk (default 4 MiB). */
  chunkBytes?: number;
}

/** Largest N accepted (the slot permutation works on 32-bit values). */

/** Yields the dump in chunks; each chunk is a fresh Buffer the caller may keep. */
export function* generateChunks(opts: GenOptions): Generator<Buffer> {
  const n = opts.n;
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ENTRIES) throw new RangeError(`entry count must be 0..${MAX_ENTRIES}`);
  const format = opts.format ?? "proc";
  const size = Math.max(opts.chunkBytes ?? 4 << 20, MAX_LINE_BYTES * 4);
  const limit = size - MAX_LINE_BYTES;
  const w = new ByteWriter(size);
  const factory = new EntryFactory(n, opts.seed ?? 1, format);
  const fmt = new EntryFormatter(format, opts.acct ?? false);
  const e = new Entry();
  if (format === "xml") w.lit(XML_HEADER);
  for (let i = 0; i < n; i++) {
    factory.fill(i, e);
    fmt.write(w, e);
    if (w.pos > limit) yield w.take();
  }
  if (format === "xml") w.lit(XML_FOOTER);
  if (w.pos > 0) yield w.take();
}

/** The whole dump in one Buffer (tests, small N). */
export function generateBuffer(opts: GenOptions): Buffer {
  return Buffer.concat([...generateChunks(opts)]);
}

export interface GenResult {
  bytes: number;
  truth: GenTruth;
}

function truthOf(opts: GenOptions): GenTruth {
  return plantedTruth(opts.n, opts.seed ?? 1, opts.format ?? "proc", opts.acct ?? false);
}

/**
 * Writes the dump to a file: into a temporary file beside it, renamed into place when complete,
 * so a reader never sees a half-written dump under the final name.
 */
export function writeDumpFile(path: string, opts: GenOptions): GenResult {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, "w");
  let bytes = 0;
  try {
    for (const chunk of generateChunks(opts)) {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      bytes += chunk.length;
    }
    closeSync(fd);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    try {
      unlinkSync(tmp);
    } catch {
      // nothing to clean up
    }
    throw err;
  }
  renameSync(tmp, path);
  return { bytes, truth: truthOf(opts) };
}

/** Writes the dump to a stream (stdout), waiting for 'drain' when the stream is full. */
export async function writeDumpStream(out: Writable, opts: GenOptions): Promise<GenResult> {
  let bytes = 0;
  for (const chunk of generateChunks(opts)) {
    bytes += chunk.length;
    if (!out.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          out.off("error", onError);
          resolve();
        };
        const onError = (err: Error) => {
          out.off("drain", onDrain);
          reject(err);
        };
        out.once("drain", onDrain);
        out.once("error", onError);
      });
    }
  }
  return { bytes, truth: truthOf(opts) };
}
