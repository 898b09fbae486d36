/**
 * Splits a regular file into newline-aligned byte ranges, one Piscina task each. Workers receive
 * {path, start, end}, never the bytes.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { describeErrno, InputError } from "../errors.js";

export interface Range {
  start: number;
  end: number;
}

/**
 * Largest range. Workers read in small windows, so a range costs no memory; fewer ranges mean
 * fewer partial tables to merge on the main thread (each range repeats the common keys).
 */
export const RANGE_BYTES = 512 * 1024 * 1024;

export function planRanges(path: string, size: number, threads: number): Range[] {
  if (size === 0) return [];
  const pieces = Math.max(1, Math.min(Math.ceil(size / (1024 * 1024)), Math.max(threads, Math.ceil(size / RANGE_BYTES))));
  const nominal = Math.ceil(size / pieces);
  const ranges: Range[] = [];
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new InputError(`${path}: ${describeErrno(err)}`, path);
  }
  try {
    const probe = Buffer.allocUnsafe(64 * 1024);
    let start = 0;
    while (start < size) {
      let end = Math.min(size, start + nominal);
      if (end < size) end = nextLineStart(fd, probe, end, size);
      ranges.push({ start, end });
      start = end;
    }
  } finally {
    closeSync(fd);
  }
  return ranges;
}

/** Offset just after the first '\n' at or after pos (or size). */
function nextLineStart(fd: number, probe: Buffer, pos: number, size: number): number {
  let at = pos;
  while (at < size) {
    const n = readSync(fd, probe, 0, Math.min(probe.length, size - at), at);
    if (n === 0) return size;
    const i = probe.subarray(0, n).indexOf(10);
    if (i >= 0) return at + i + 1;
    at += n;
  }
  return size;
}
