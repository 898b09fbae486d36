import { closeSync, openSync, readSync } from "node:fs";
import { describeErrno, InputError } from "../errors.js";

/** Read bytes [start, end) of a regular file. A file that shrinks under us is an input error. */
export function readRange(path: string, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new InputError(`${path}: ${describeErrno(err)}`, path);
  }
  try {
    let off = 0;
    while (off < out.length) {
      const n = readSync(fd, out, off, out.length - off, start + off);
      if (n === 0) throw new InputError(`${path}: file was truncated while being read (expected ${end} bytes)`, path);
      off += n;
    }
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${path}: ${describeErrno(err)}`, path);
  } finally {
    closeSync(fd);
  }
  return out;
}
