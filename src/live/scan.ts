/**
 * One full scan of the live table into a Snapshot, through the same engine as offline analysis:
 * the ctnetlink dump becomes one ChunkAggregate merged like any chunk; /proc is read in a loop
 * (never mapped) and parsed block by block by the backend; `conntrack -L` goes through analyze()
 * as a stream. Then the diagnosis, and the JSON document of the offline schema.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readSync } from "node:fs";
import { PassThrough } from "node:stream";
import { diagnose, diagnosisToJson, type Thresholds } from "../diagnose/index.js";
import type { Diagnosis, HostFacts } from "../diagnose/types.js";
import { analyze } from "../engine/analyze.js";
import { backendInfo, getBackend } from "../engine/backend.js";
import { type BackendChoice, isEmptyFilter } from "../engine/contract.js";
import { compileFilter, type FilterOptions, parseCidrs } from "../engine/filter.js";
import { Merger } from "../engine/merge.js";
import { buildSnapshot, type LocalSpec } from "../engine/snapshot.js";
import type { Snapshot } from "../engine/types.js";
import { CtscopeError, describeErrno, InputError } from "../errors.js";
import { toJsonObject } from "../report/serialize.js";
import { takeEarlyDump } from "./early-dump.js";
import { explainNetlinkError, localCidrBytes, type NetlinkAggregate, netlinkAddon, sameLocalCidrs } from "./netlink.js";
import type { LiveSourceName } from "./options.js";
import { CONNTRACK_ARGS, PROC_TABLE, SOURCE_LABELS } from "./sources.js";

export interface ScanRequest extends FilterOptions {
  source: LiveSourceName;
  top: number;
  local?: string[];
  hostLocal?: string[];
  threads: number;
  backend?: BackendChoice;
  thresholds?: Partial<Thresholds>;
}

/** A finished scan: the JSON document (offline schema plus diagnosis) and what it cost. */
export interface ScanResult {
  doc: Record<string, unknown>;
  entries: number;
  unreplied: number;
  elapsedMs: number;
  /** CPU time of this whole process during the scan (all threads), in ms. */
  cpuMs: number;
  /** Heap (JS and array buffers) of the thread that scanned, after the scan, in bytes. */
  heapBytes: number;
}

function localSpec(req: ScanRequest): LocalSpec {
  if (req.local && req.local.length > 0) return { mode: "given", cidrs: parseCidrs(req.local, "--local") };
  if (req.hostLocal && req.hostLocal.length > 0) return { mode: "host", cidrs: parseCidrs(req.hostLocal, "host address") };
  return { mode: "inferred", cidrs: [] };
}

async function netlinkSnapshot(req: ScanRequest): Promise<Snapshot> {
  const started = performance.now();
  const addon = netlinkAddon();
  if (!addon) throw new InputError("the native addon with ctnetlink support is not loaded (`npm run build:native`)");
  const filter = compileFilter(req);
  const local = localSpec(req);
  const localCidrs = localCidrBytes(local);
  // A one-shot run may have started this very dump while it loaded (early-dump.ts).
  const early = isEmptyFilter(filter) ? takeEarlyDump() : null;
  let agg: NetlinkAggregate;
  try {
    agg = await (early?.dump ?? addon.netlinkDump(filter, localCidrs));
  } catch (err) {
    throw new InputError(explainNetlinkError(err));
  }
  // The dimensions built during the dump, when they are for this local side.
  const dims = sameLocalCidrs(early ? early.localCidrs : localCidrs, localCidrs) ? agg.dimensions : undefined;
  // One table: with the backend's merge it is used as it is.
  const merger = new Merger(getBackend(req.backend));
  merger.add(0, 0, agg);
  const snapshot = buildSnapshot(
    merger,
    local,
    { backend: "native", sources: [SOURCE_LABELS.netlink], bytes: 0, top: req.top, elapsedMs: 0 },
    dims,
  );
  snapshot.elapsed_ms = performance.now() - started;
  return snapshot;
}

function textOptions(req: ScanRequest) {
  return {
    threads: req.threads,
    backend: req.backend,
    top: req.top,
    local: req.local,
    hostLocal: req.hostLocal,
    proto: req.proto,
    state: req.state,
    src: req.src,
    dst: req.dst,
    port: req.port,
  };
}

async function conntrackSnapshot(req: ScanRequest): Promise<Snapshot> {
  const child = spawn("conntrack", CONNTRACK_ARGS, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(new InputError(err.code === "ENOENT" ? "conntrack is not installed (apt install conntrack)" : `conntrack: ${err.message}`)),
    );
    child.on("close", (code) => resolve(code));
  });
  exited.catch(() => undefined);
  // Read from now on: Node discards the output of a child that exits before anyone listens to it.
  const out = child.stdout.pipe(new PassThrough());
  let snapshot: Snapshot;
  try {
    snapshot = await analyze({ ...textOptions(req), inputs: ["-"], stdin: () => out });
  } finally {
    if (child.exitCode === null) child.kill("SIGTERM");
  }
  const code = await exited;
  if (code !== 0) {
    const line =
      stderr
        .trim()
        .split("\n")
        .find((l) => !/flow entries have been shown/.test(l)) ?? `exit ${code}`;
    throw new InputError(`conntrack ${CONNTRACK_ARGS.join(" ")} failed: ${line}`);
  }
  snapshot.sources = [SOURCE_LABELS.conntrack];
  return snapshot;
}

/** Bytes parsed per backend call when reading /proc. */
const PROC_BLOCK = 4 * 1024 * 1024;

/**
 * /proc/net/nf_conntrack read in a loop with plain read(2) calls (the kernel returns about a page
 * per call whatever the buffer: going through the thread pool for each one costs more than the
 * kernel's formatting), parsed block by block as whole lines by the same backend as offline input.
 */
function procSnapshot(req: ScanRequest, path = PROC_TABLE): Snapshot {
  const started = performance.now();
  const filter = compileFilter(req);
  const local = localSpec(req);
  const backend = getBackend(req.backend);
  const merger = new Merger(backend);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new InputError(`${path}: ${describeErrno(err)}`, path);
  }
  const buf = Buffer.allocUnsafe(PROC_BLOCK + 256 * 1024);
  let fill = 0;
  let total = 0;
  let order = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, fill, buf.length - fill, null);
      fill += n;
      total += n;
      if (n > 0 && fill < PROC_BLOCK) continue;
      const cut = n === 0 ? fill : buf.lastIndexOf(10, fill - 1) + 1;
      if (cut > 0) {
        merger.add(0, order++, backend.scanBuffer(buf, 0, cut, filter));
        buf.copy(buf, 0, cut, fill);
        fill -= cut;
      }
      if (n === 0) break;
    }
  } catch (err) {
    throw new InputError(`${path}: ${describeErrno(err)}`, path);
  } finally {
    closeSync(fd);
  }
  const snapshot = buildSnapshot(merger, local, { backend: backend.name, sources: [path], bytes: total, top: req.top, elapsedMs: 0 });
  snapshot.elapsed_ms = performance.now() - started;
  return snapshot;
}

/** Scan the live table from one source. Throws CtscopeError subclasses. */
export async function scanSnapshot(req: ScanRequest): Promise<Snapshot> {
  if (req.source === "netlink") return netlinkSnapshot(req);
  if (req.source === "conntrack") return conntrackSnapshot(req);
  return procSnapshot(req);
}

/** The JSON document of a snapshot with its diagnosis, and the diagnosis (null when it could not be made). */
export function diagnoseSnapshot(
  snapshot: Snapshot,
  facts: HostFacts | null,
  thresholds: Partial<Thresholds> = {},
): { doc: Record<string, unknown>; diagnosis: Diagnosis | null } {
  try {
    const diagnosis = diagnose(snapshot, facts, thresholds);
    return { doc: toJsonObject(snapshot, diagnosisToJson(diagnosis)), diagnosis };
  } catch (err) {
    if (err instanceof CtscopeError) throw err;
    return { doc: toJsonObject(snapshot, { diagnosis_error: (err as Error).message }), diagnosis: null };
  }
}

export function describeSnapshot(
  snapshot: Snapshot,
  facts: HostFacts | null,
  thresholds: Partial<Thresholds> = {},
): Record<string, unknown> {
  return diagnoseSnapshot(snapshot, facts, thresholds).doc;
}

/** Scan and describe, measuring wall and CPU time. */
export async function runScan(req: ScanRequest, facts: HostFacts | null): Promise<ScanResult> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const snapshot = await scanSnapshot(req);
  const doc = describeSnapshot(snapshot, facts, req.thresholds);
  const cpu = process.cpuUsage(cpu0);
  const mem = process.memoryUsage();
  return {
    doc,
    entries: snapshot.entries,
    unreplied: snapshot.unreplied,
    elapsedMs: performance.now() - t0,
    cpuMs: (cpu.user + cpu.system) / 1000,
    heapBytes: mem.heapTotal + mem.external,
  };
}

/** The backend that parses text sources, for display. */
export function textBackendName(choice?: BackendChoice): string {
  return backendInfo(choice).active;
}
