/**
 * Input sources: stdin, gzip (by extension or magic), several files, files that report size 0
 * (/proc, FIFOs), empty files, and every way an input can be unusable (missing, a directory,
 * permission denied, corrupt gzip): one-line errors, exit code 3 from the CLI.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync, constants as zlibConstants } from "node:zlib";
import { describe, expect, it, vi } from "vitest";
import { InputError, UsageError } from "../src/errors.js";
import { analyzeFiles, comparable, counts, fixture, tempDir, writeTemp } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";
import { asNobody, BIN, ROOT, runCli } from "./helpers/cli.js";

// Worker threads and child processes are slow on a busy 2-core machine.
vi.setConfig({ testTimeout: 60_000 });

const PROC = fixture("formats", "proc-nf_conntrack.txt");
const LISTING = fixture("formats", "conntrack-L.txt");
const MIXED = fixture("malformed", "mixed.txt");
const procBytes = readFileSync(PROC);

/** The snapshot of PROC read from elsewhere must equal the plain file's, but for its name. */
function sameAsProc(s: Awaited<ReturnType<typeof analyzeFiles>>, ref: Awaited<ReturnType<typeof analyzeFiles>>, name: string) {
  expect(comparable(s)).toEqual({ ...comparable(ref), sources: [name] });
}

describe.each(BACKENDS)("inputs (%s backend)", (backend) => {
  it("stdin (-), inline and through the pool", async () => {
    const ref = await analyzeFiles([PROC], backend);
    for (const threads of [1, 2]) {
      const s = await analyzeFiles(["-"], backend, {
        threads,
        stdin: () => Readable.from([procBytes.subarray(0, 100), procBytes.subarray(100)]),
      });
      sameAsProc(s, ref, "<stdin>");
      expect(s.bytes).toBe(procBytes.length);
    }
  });

  it("stdin given twice is a usage error", async () => {
    await expect(analyzeFiles(["-", "-"], backend)).rejects.toBeInstanceOf(UsageError);
  });

  it("gzip: by .gz extension and by magic bytes, same result as the plain file", async () => {
    const ref = await analyzeFiles([PROC], backend);
    const gz = writeTemp(gzipSync(procBytes), "dump.txt.gz");
    sameAsProc(await analyzeFiles([gz], backend), ref, gz);
    const noExt = writeTemp(gzipSync(procBytes), "dump.bin");
    sameAsProc(await analyzeFiles([noExt], backend), ref, noExt);
    // Bytes are counted after decompression.
    expect((await analyzeFiles([gz], backend)).bytes).toBe(procBytes.length);
  });

  it("gzip on stdin: found by its magic bytes, however the pipe cuts them; other stdin as it is", async () => {
    const ref = await analyzeFiles([PROC], backend);
    const gz = gzipSync(procBytes);
    for (const threads of [1, 2]) {
      // The first read may hold a single byte of the magic.
      const s = await analyzeFiles(["-"], backend, {
        threads,
        stdin: () => Readable.from([gz.subarray(0, 1), gz.subarray(1, 7), gz.subarray(7)]),
      });
      sameAsProc(s, ref, "<stdin>");
      expect(s.bytes).toBe(procBytes.length);
      const plain = await analyzeFiles(["-"], backend, {
        threads,
        stdin: () => Readable.from([procBytes.subarray(0, 1), procBytes.subarray(1)]),
      });
      sameAsProc(plain, ref, "<stdin>");
    }
    // Shorter than the magic, and empty.
    expect(await analyzeFiles(["-"], backend, { stdin: () => Readable.from([Buffer.from([0x1f])]) })).toMatchObject({
      lines: 1,
      malformed: 1,
    });
    expect(await analyzeFiles(["-"], backend, { stdin: () => Readable.from([]) })).toMatchObject({ lines: 0, entries: 0 });
    // Cut off: the warning names stdin; not gzip data after the magic: an input error.
    const cut = await analyzeFiles(["-"], backend, { stdin: () => Readable.from([gz.subarray(0, -8)]) });
    expect(cut).toMatchObject({ lines: 12, entries: 12 });
    expect(cut.warnings).toEqual([
      `<stdin>: the compressed data ends early; analysed the ${procBytes.length.toLocaleString("en-US")} bytes of whole lines before that point`,
    ]);
    const junk = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 0x55)]);
    await expect(analyzeFiles(["-"], backend, { stdin: () => Readable.from([junk]) })).rejects.toThrow("<stdin>: not valid gzip data");
    // A source that closes without ending: an input error, not a wait forever.
    let sent = false;
    const closes = new Readable({
      read() {
        if (sent) return;
        sent = true;
        this.push(procBytes);
        setImmediate(() => this.destroy());
      },
    });
    await expect(analyzeFiles(["-"], backend, { stdin: () => closes })).rejects.toThrow(InputError);
    // Text chunks are latin1 before and after the first two bytes alike (0xe9: é in latin1).
    const text = procBytes.toString("latin1").replace("ESTABLISHED", "ESTABLISH\u00e9D");
    const strings = await analyzeFiles(["-"], backend, { stdin: () => Readable.from([text.slice(0, 1), text.slice(1)]) });
    expect(strings.bytes).toBe(Buffer.from(text, "latin1").length);
  });

  it("stdin that never ends: stopping the reading analyses the whole lines read so far", async () => {
    for (const threads of [1, 2]) {
      const stop = new AbortController();
      const partial = Buffer.from("ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sp");
      let pushed = false;
      // Gives the table and half a line, then waits for more forever.
      const endless = new Readable({
        read() {
          if (pushed) return;
          pushed = true;
          this.push(Buffer.concat([procBytes, partial]));
          setTimeout(() => stop.abort(), 50);
        },
      });
      // Asked for each stream as its reading starts (not for the file), released when it is done.
      const asked: string[] = [];
      let released = 0;
      const stopReading = (name: string) => {
        asked.push(name);
        return { signal: stop.signal, release: () => released++ };
      };
      const s = await analyzeFiles([PROC, "-"], backend, { threads, stdin: () => endless, stopReading });
      expect([asked, released]).toEqual([["<stdin>"], 1]);
      expect(s).toMatchObject({ lines: 24, entries: 24, malformed: 0, bytes: 2 * procBytes.length });
      expect(s.warnings).toEqual([
        `<stdin>: reading stopped at an interrupt; analysed the ${procBytes.length.toLocaleString("en-US")} bytes of whole lines read before it, and left out the line it was in (${partial.length} bytes)`,
      ]);
      expect(endless.destroyed).toBe(true);
    }
  });

  it("gzip that is not gzip data from the start is an input error, not a crash", async () => {
    const corrupt = writeTemp(Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 0x55)]), "corrupt.gz");
    await expect(analyzeFiles([corrupt], backend)).rejects.toBeInstanceOf(InputError);
    await expect(analyzeFiles([corrupt], backend)).rejects.toThrow(`${corrupt}: not valid gzip data`);
    await expect(analyzeFiles([corrupt], backend, { threads: 2 })).rejects.toThrow(`${corrupt}: not valid gzip data`);
  });

  it("truncated gzip: the whole lines before the cut are analysed, with a warning", async () => {
    // Several stream blocks of entries, cut in the middle of the compressed data.
    const text = Buffer.concat(Array.from({ length: 60_000 }, () => procBytes));
    const full = gzipSync(text);
    const cut = full.subarray(0, Math.floor(full.length * 0.6));
    const prefix = gunzipSync(cut, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const wholeLines = prefix.subarray(0, prefix.lastIndexOf(10) + 1);
    const lines = wholeLines.filter((b) => b === 10).length;
    const truncated = writeTemp(cut, "truncated.gz");
    for (const threads of [1, 2]) {
      const s = await analyzeFiles([truncated], backend, { threads });
      expect(s).toMatchObject({ lines, entries: lines, malformed: 0, bytes: wholeLines.length });
      expect(s.warnings).toEqual([
        `${truncated}: the compressed data ends early; analysed the ${wholeLines.length.toLocaleString("en-US")} bytes of whole lines before that point, and left out the line it cut off (${prefix.length - wholeLines.length} bytes)`,
      ]);
    }
    // Damaged in the middle: what decoded before the damage was found is analysed, with a warning
    // that says it may be damaged too.
    const damagedBytes = Buffer.from(full);
    for (let i = 0; i < 64; i++) damagedBytes[(damagedBytes.length >> 1) + i]! ^= 0x5a;
    const damaged = writeTemp(damagedBytes, "damaged.gz");
    const d = await analyzeFiles([damaged], backend);
    expect(d.entries).toBeGreaterThan(0);
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toMatch(
      /: the compressed data is damaged \(.+\); analysed the [\d,]+ bytes of whole lines before that point.*, which may hold damaged lines too$/,
    );
    // Only the trailer missing: every line is there.
    const noTrailer = writeTemp(gzipSync(procBytes).subarray(0, -8), "no-trailer.gz");
    const s = await analyzeFiles([noTrailer], backend);
    expect(s).toMatchObject({ lines: 12, entries: 12 });
    expect(s.warnings).toEqual([
      `${noTrailer}: the compressed data ends early; analysed the ${procBytes.length.toLocaleString("en-US")} bytes of whole lines before that point`,
    ]);
  });

  it("several files: counters add up, samples name their source and line", async () => {
    const a = await analyzeFiles([PROC], backend);
    const b = await analyzeFiles([MIXED], backend);
    const both = await analyzeFiles([PROC, MIXED, LISTING], backend);
    const c = await analyzeFiles([LISTING], backend);
    expect(both.sources).toEqual([PROC, MIXED, LISTING]);
    for (const k of ["lines", "entries", "malformed", "blank", "ignored", "accounted"] as const) {
      expect(both[k], k).toBe(a[k] + b[k] + c[k]);
    }
    expect(both.bytes).toBe(statSync(PROC).size + statSync(MIXED).size + statSync(LISTING).size);
    expect(both.malformed_samples[0]).toMatchObject({ source: MIXED, line: 2 });
    expect(both.malformed_samples).toEqual(b.malformed_samples);
  });

  it("an empty file is no error: nothing to summarise", async () => {
    const empty = writeTemp("", "empty.txt");
    const s = await analyzeFiles([empty], backend);
    expect(counts(s)).toEqual({
      lines: 0,
      entries: 0,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 0,
    });
    expect(s.top.src).toEqual([]);
  });

  it("a file that reports size 0 (/proc) is read to its end", async () => {
    const version = readFileSync("/proc/version");
    expect(statSync("/proc/version").size).toBe(0);
    const s = await analyzeFiles(["/proc/version"], backend);
    expect(s.bytes).toBe(version.length);
    expect(counts(s)).toMatchObject({ lines: 1, entries: 0, malformed: 1 });
  });

  it("the live /proc/net/nf_conntrack, when present, parses without a malformed line", async (ctx) => {
    const live = "/proc/net/nf_conntrack";
    if (!existsSync(live)) {
      console.log(`inputs: ${live} absent here, live read not checked`);
      ctx.skip();
      return;
    }
    const s = await analyzeFiles([live], backend);
    expect(s.malformed).toBe(0);
    expect(s.lines).toBe(s.entries + s.blank);
    expect(s.forms.plain + s.forms.xml).toBe(0);
  });

  it("a FIFO (no size, no seeking) is read as a stream, gzip data in it decompressed", async () => {
    const ref = await analyzeFiles([PROC], backend);
    const gz = writeTemp(gzipSync(procBytes), `fifo-source-${backend}.gz`);
    for (const [name, source] of [
      ["plain", PROC],
      ["gzip", gz],
    ]) {
      const fifo = join(tempDir(), `fifo-${name}-${backend}`);
      const mk = spawn("mkfifo", [fifo]);
      await new Promise((r) => mk.on("close", r));
      // A writer in another process: opening a FIFO blocks until both ends are open.
      const writer = spawn("sh", ["-c", `cat "${source}" > "${fifo}"`]);
      const written = new Promise((r) => writer.on("close", r));
      const s = await analyzeFiles([fifo], backend);
      await written;
      sameAsProc(s, ref, fifo);
    }
  });

  it("a missing file is an input error naming it", async () => {
    const missing = join(tempDir(), "does-not-exist.txt");
    await expect(analyzeFiles([missing], backend)).rejects.toBeInstanceOf(InputError);
    await expect(analyzeFiles([missing], backend)).rejects.toThrow(`${missing}: no such file or directory`);
    // Checked before any work: a good file first does not help.
    await expect(analyzeFiles([PROC, missing], backend)).rejects.toThrow(`${missing}: no such file or directory`);
  });

  it("a directory is an input error", async () => {
    const dir = tempDir();
    await expect(analyzeFiles([dir], backend)).rejects.toBeInstanceOf(InputError);
    await expect(analyzeFiles([dir], backend)).rejects.toThrow(`${dir}: is a directory`);
  });
});

describe("inputs through the CLI", () => {
  it("stdin with -", () => {
    const r = runCli(["analyze", "--json", "-"], { input: procBytes });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { sources: string[]; entries: number; bytes: number };
    expect(doc).toMatchObject({ sources: ["<stdin>"], entries: 12, bytes: procBytes.length });
  });

  it("Ctrl-C while stdin is read: the lines read so far are analysed, exit 0", async () => {
    const line = Buffer.from(`${procBytes.toString("latin1").split("\n")[0]}\n`, "latin1");
    const child = spawn(process.execPath, [BIN, "analyze", "--json", "-"], { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    // Far more than a pipe holds: once written, ctscope is reading (and its handler is in place).
    const lines = 20_000;
    await new Promise<void>((r) => child.stdin.write(Buffer.concat(Array.from({ length: lines }, () => line)), () => r()));
    child.kill("SIGINT");
    const code = await exited;
    child.stdin.destroy();
    expect(code, stderr).toBe(0);
    const doc = JSON.parse(stdout) as { entries: number; malformed: number; bytes: number; warnings: string[] };
    expect(doc.malformed).toBe(0);
    expect(doc.entries).toBeGreaterThan(0);
    expect(doc.entries).toBeLessThanOrEqual(lines);
    expect(doc.bytes).toBe(doc.entries * line.length);
    expect(doc.warnings[0]).toMatch(/^<stdin>: reading stopped at an interrupt; analysed the [\d,]+ bytes of whole lines read before it/);
    expect(stderr).toMatch(/^ctscope: interrupted: analysing what was read from stdin \(Ctrl-C again to quit\)\n/);
  });

  it("gzip on stdin with -", () => {
    const r = runCli(["analyze", "--json", "-"], { input: gzipSync(procBytes) });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ sources: ["<stdin>"], entries: 12, bytes: procBytes.length });
  });

  it.each([
    ["missing file", (d: string) => join(d, "nope.txt"), "no such file or directory"],
    ["directory", (d: string) => d, "is a directory"],
  ])("%s: exit 3, one line on stderr", (_name, path, reason) => {
    const p = path(tempDir());
    const r = runCli(["analyze", p]);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`ctscope: ${p}: ${reason}\n`);
  });

  it("permission denied: exit 3, one line on stderr (run as nobody)", (ctx) => {
    const who = asNobody();
    if ("reason" in who) {
      console.log(`inputs: permission test skipped: ${who.reason}`);
      ctx.skip();
      return;
    }
    const dir = join(tempDir(), "perm");
    mkdirSync(dir, { recursive: true });
    chmodSync(tempDir(), 0o755);
    chmodSync(dir, 0o755);
    const secret = join(dir, "secret.txt");
    writeFileSync(secret, procBytes);
    chmodSync(secret, 0o600);
    const readable = join(dir, "public.txt");
    writeFileSync(readable, procBytes);
    chmodSync(readable, 0o644);
    // The same identity can read a public file: the failure below is the permission, not the setup.
    const ok = runCli(["analyze", "--json", readable], { ...who });
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    const r = runCli(["analyze", readable, secret], { ...who });
    expect(r.status).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`ctscope: ${secret}: permission denied\n`);
  });

  it("truncated gzip: exit 0, the report, and the warning on stderr", () => {
    const full = gzipSync(Buffer.concat(Array.from({ length: 2000 }, () => procBytes)));
    const truncated = writeTemp(full.subarray(0, full.length >> 1), "cli-truncated.gz");
    const r = runCli(["analyze", truncated, "--json"]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`^ctscope: warning: ${truncated.replace(/[.]/g, "\\.")}: the compressed data ends early; [^\\n]*\\n$`),
    );
    const doc = JSON.parse(r.stdout);
    expect(doc.warnings).toHaveLength(1);
    expect(doc.entries).toBeGreaterThan(0);
    const human = runCli(["analyze", truncated]);
    expect(human.stdout).toMatch(/^Warning: .*cli-truncated\.gz: the compressed data ends early; /m);
  });

  it("corrupt gzip: exit 3, one line", () => {
    const corrupt = writeTemp(Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 0x55)]), "cli-corrupt.gz");
    const r = runCli(["analyze", corrupt]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^ctscope: ${corrupt.replace(/[.]/g, "\\.")}: not valid gzip data[^\\n]*\\n$`));
  });
});
