/** The pure-TS backend: the TS tokenizer over buffers, and over files read in reused windows. */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { describeErrno, InputError } from "../errors.js";
import { ChunkScanner, scanBuffer } from "../parse/tokenizer.js";
import type { Backend, ChunkAggregate, CompiledFilter } from "./contract.js";

/** Window size: big enough to amortise read(2), small enough to keep memory flat. */
const WINDOW_BYTES = 4 * 1024 * 1024;

/** Scan lines of a regular file in [start, end) through one reused window (memory stays flat). */
export function scanFileTs(path: string, start: number, end: number, filter: CompiledFilter): ChunkAggregate {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new InputError(`${path}: ${describeErrno(err)}`, path);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new InputError(`${path}: is a directory`, path);
    if (!st.isFile()) throw new InputError(`${path}: not a regular file`, path);
    const scanner = new ChunkScanner(filter);
    let buf = Buffer.allocUnsafe(Math.min(WINDOW_BYTES, Math.max(1, end - start)));
    let carry = 0; // bytes of an unfinished line kept at the front of buf
    let pos = start;
    while (pos < end) {
      if (carry === buf.length) {
        // A line longer than the window: grow (rare; malformed input).
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, carry);
        buf = bigger;
      }
      const want = Math.min(buf.length - carry, end - pos);
      const n = readSync(fd, buf, carry, want, pos);
      if (n === 0) throw new InputError(`${path}: file was truncated while being read (expected ${end} bytes)`, path);
      pos += n;
      const filled = carry + n;
      if (pos >= end) {
        scanner.run(buf, 0, filled);
        carry = 0;
        break;
      }
      const cut = buf.lastIndexOf(10, filled - 1);
      if (cut < 0) {
        carry = filled;
        continue;
      }
      scanner.run(buf, 0, cut + 1);
      carry = filled - (cut + 1);
      buf.copy(buf, 0, cut + 1, filled);
    }
    return scanner.result();
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path}: ${describeErrno(err)}`, path);
  } finally {
    closeSync(fd);
  }
}

export const tsBackend: Backend = {
  name: "ts",
  scanBuffer,
  scanFile: scanFileTs,
};
