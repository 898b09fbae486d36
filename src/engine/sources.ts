/**
 * Input sources. Regular files are split into ranges that workers read themselves; everything
 * else (stdin, pipes, .gz, /proc files that report size 0) is read here in a loop and cut into
 * newline-aligned blocks that travel to the workers.
 */
import { accessSync, closeSync, constants, createReadStream, openSync, readSync, statSync } from "node:fs";
import { finished, PassThrough, type Readable, type Writable } from "node:stream";
import { createGunzip } from "node:zlib";
import { describeErrno, InputError } from "../errors.js";

export type Source =
  | { kind: "file"; name: string; path: string; size: number }
  | { kind: "stream"; name: string; open: () => Readable; size: number | null };

const GZIP_MAGIC = [0x1f, 0x8b];

/** The name stdin (`-`) goes by in reports and warnings. */
export const STDIN_NAME = "<stdin>";

function isGzip(path: string): boolean {
  if (path.endsWith(".gz")) return true;
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === GZIP_MAGIC[0] && b[1] === GZIP_MAGIC[1];
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Resolve one command-line input; every problem becomes a one-line InputError naming the path. */
export function resolveSource(input: string, stdin: () => Readable = () => process.stdin): Source {
  if (input === "-") return { kind: "stream", name: STDIN_NAME, open: () => decompressIfGzip(stdin()), size: null };
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(input);
  } catch (err) {
    throw new InputError(`${input}: ${describeErrno(err)}`, input);
  }
  if (st.isDirectory()) throw new InputError(`${input}: is a directory`, input);
  // Check readability now so that a permission problem is reported before any work starts. A FIFO
  // is only checked: opening and closing it would take (and lose) what its writer sends.
  try {
    if (st.isFIFO()) accessSync(input, constants.R_OK);
    else closeSync(openSync(input, "r"));
  } catch (err) {
    throw new InputError(`${input}: ${describeErrno(err)}`, input);
  }
  if (st.isFile() && isGzip(input)) {
    return {
      kind: "stream",
      name: input,
      size: st.size,
      open: () => {
        const gunzip = createGunzip();
        const raw = createReadStream(input);
        raw.on("error", (e) => gunzip.destroy(e));
        return raw.pipe(gunzip);
      },
    };
  }
  // /proc and /sys files report size 0 (or a fake size): never map or range-split them.
  if (st.isFile() && st.size > 0 && !input.startsWith("/proc/") && !input.startsWith("/sys/")) {
    return { kind: "file", name: input, path: input, size: st.size };
  }
  return { kind: "stream", name: input, size: null, open: () => decompressIfGzip(createReadStream(input)) };
}

/**
 * A stream that starts with the gzip magic bytes, decompressed; any other stream as it is. Pipes
 * and stdin have no name to go by (`ssh host cat dump.gz | ctscope analyze -`). The returned
 * stream ends with the source's error, the decompressor's (the zlib codes tell a cut-off from
 * damage) or a premature close; string chunks are read as latin1, like the rest of the input.
 */
export function decompressIfGzip(raw: Readable): Readable {
  const out = new PassThrough();
  // Where bytes go once the first two are known: out itself, or a decompressor piped into it.
  let target: Writable | null = null;
  let head = Buffer.alloc(0);
  const fail = (err: Error) => out.destroy(err);
  const write = (b: Buffer) => {
    if (!target!.write(b)) raw.pause();
  };
  const decide = () => {
    if (head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]) {
      const gunzip = createGunzip();
      gunzip.on("error", fail);
      gunzip.pipe(out);
      target = gunzip;
    } else target = out;
    target.on("drain", () => raw.resume());
    write(head);
  };
  raw.on("data", (chunk: Buffer | string) => {
    const b = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk;
    if (target) return write(b);
    head = Buffer.concat([head, b]);
    if (head.length >= GZIP_MAGIC.length) decide();
  });
  finished(raw, { writable: false }, (err) => {
    if (err) fail(err);
    // Shorter than the magic: not gzip, passed on as it is.
    else if (!target) out.end(head);
    else target.end();
  });
  // Given up early by the reader (reading stopped): the source goes too, or an open stdin would
  // keep the process alive after its report.
  out.once("close", () => {
    if (!raw.readableEnded) raw.destroy();
    if (target && target !== out) target.destroy();
  });
  return out;
}

/** A stream that failed after delivering data: the error, and the bytes of the cut-off line left out. */
export class StreamBroke extends Error {
  constructor(
    readonly reason: unknown,
    readonly partialLineBytes: number,
  ) {
    super((reason as Error)?.message ?? String(reason));
  }
}

/**
 * Yields newline-aligned blocks of about blockBytes from a stream. The last block may lack a final
 * newline. Each yielded buffer is a fresh copy the caller may transfer. When the stream fails, its
 * complete lines are yielded first, then a StreamBroke is thrown: a line cut off by the failure
 * could read as a valid entry with a wrong field, so it is left out.
 */
export async function* blocks(stream: Readable, blockBytes: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    yield* cutBlocks();
  } catch (err) {
    const rest = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    const cut = rest.lastIndexOf(10);
    if (cut >= 0) yield Buffer.from(rest.subarray(0, cut + 1));
    throw new StreamBroke(err, rest.length - (cut + 1));
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);

  async function* cutBlocks(): AsyncGenerator<Buffer> {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk, "latin1") : chunk;
      pending.push(buf);
      pendingBytes += buf.length;
      if (pendingBytes < blockBytes) continue;
      const all = Buffer.concat(pending, pendingBytes);
      const cut = all.lastIndexOf(10);
      if (cut < 0) {
        pending = [all];
        continue;
      }
      const rest = Buffer.from(all.subarray(cut + 1));
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
      yield Buffer.from(all.subarray(0, cut + 1));
    }
  }
}
