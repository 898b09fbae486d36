/**
 * `ctscope analyze --live`: one snapshot (--once), one NDJSON document per interval (--json), or
 * the full-screen view. The count and statistics are read on every tick; full scans run in a
 * worker thread as often as their cost allows (see Sampler), so the view keeps its interval on a
 * table of any size.
 */
import { appendFileSync } from "node:fs";
import { collectHostFactsFromTexts, collectLiveHostFacts, resolveThresholds } from "../diagnose/index.js";
import type { HostFacts } from "../diagnose/types.js";
import { compileFilter, parseCidrs } from "../engine/filter.js";
import { CtscopeError } from "../errors.js";
import { useColor } from "../report/color.js";
import { renderDiagnosisText } from "../report/diagnosis-text.js";
import { type LiveDocument, type LiveScanInfo, liveDocument, liveInfo, type ViewDoc } from "./document.js";
import { HostReader, type HostReading, KernelLogWatcher } from "./host.js";
import { hostAddresses } from "./host-addresses.js";
import { Meter } from "./meter.js";
import { netlinkAddon } from "./netlink.js";
import type { LiveSourceName, ValidLiveOptions } from "./options.js";
import { nextScanPeriodMs, nextTickMs, Sampler } from "./sampler.js";
import { diagnoseSnapshot, type ScanRequest, type ScanResult, scanSnapshot } from "./scan.js";
import { chooseSource, SOURCE_LABELS } from "./sources.js";
import { Screen } from "./terminal.js";
import { renderView, type ScanCounts, SORT_KEYS, type SortKey, scanCounts } from "./view.js";

/** Rows per table the view keeps, so that sorting by change or UNREPLIED has rows to sort. */
const VIEW_POOL_ROWS = 30;
/** Host facts (sysctls, slab size, the whole kernel log) are re-read this often. */
const FACTS_REFRESH_MS = 60_000;
/** After a failed scan, wait this long before the next one. */
const RETRY_MS = 5000;
/** The first full scan waits at most this long for the host facts. */
const FIRST_FACTS_WAIT_MS = 1500;

export function filtersGiven(o: ValidLiveOptions): boolean {
  return [o.proto, o.state, o.src, o.dst, o.port].some((v) => v !== undefined && v.length > 0);
}

function scanRequest(o: ValidLiveOptions, source: LiveSourceName, top: number, threads: number): ScanRequest {
  return {
    source,
    top,
    threads,
    backend: o.backend,
    thresholds: o.thresholds,
    local: o.local,
    hostLocal: o.local && o.local.length > 0 ? undefined : hostAddresses(),
    proto: o.proto,
    state: o.state,
    src: o.src,
    dst: o.dst,
    port: o.port,
  };
}

/** Host facts for the diagnosis: the slow facts read at start, with this tick's count and statistics. */
export function factsWith(base: HostFacts | null, r: HostReading): HostFacts {
  // Without the slow facts yet: an empty set (every fact unknown) carrying this tick's numbers.
  const f: HostFacts = base ? { ...base, notes: [...base.notes] } : { ...collectHostFactsFromTexts({}), origin: "live" };
  if (r.count !== null) f.count = r.count;
  if (r.max !== null) f.max = r.max;
  if (r.stats) f.stats = r.stats;
  return f;
}

/** Keeps the counts of the scan before the current one, for the change columns. */
export class ScanTracker {
  private seq: number | null = null;
  private current: ViewDoc | null = null;
  previous: ScanCounts | null = null;

  observe(doc: ViewDoc): void {
    const seq = doc.live?.scan?.seq ?? null;
    if (seq === null || seq === this.seq) {
      if (seq !== null) this.current = doc;
      return;
    }
    if (this.current) this.previous = scanCounts(this.current);
    this.seq = seq;
    this.current = doc;
  }
}

/** --once: one scan, the readings around it, one document (JSON) or one screen (text). */
async function runOnce(o: ValidLiveOptions, source: LiveSourceName, out: NodeJS.WriteStream): Promise<number> {
  const started = performance.now();
  const netlink = netlinkAddon();
  const reader = new HostReader(netlink);
  const factsP = collectLiveHostFacts().catch(() => null);
  const meter = new Meter();
  const before = await reader.read();
  meter.update(before);
  const req = scanRequest(o, source, o.top, o.threads);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const snapshot = await scanSnapshot(req);
  const scanMs = performance.now() - t0;
  const after = await reader.read();
  const rates = meter.update(after);
  const { doc, diagnosis } = diagnoseSnapshot(snapshot, factsWith(await factsP, after), o.thresholds);
  const cpu = process.cpuUsage(cpu0);
  const scanInfo: LiveScanInfo = {
    seq: 1,
    time: new Date().toISOString(),
    elapsed_ms: Math.round(scanMs),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    period_s: o.interval,
    entries: snapshot.entries,
  };
  const info = liveInfo({
    seq: 1,
    startedAt: started,
    source,
    sourceLabel: SOURCE_LABELS[source],
    intervalS: o.interval,
    count: after.count,
    max: after.max,
    totals: after.stats?.totals ?? null,
    statsSource: after.statsSource,
    rates,
    kernel: null,
    filtered: filtersGiven(o),
    scan: { info: scanInfo, entries: snapshot.entries, unreplied: snapshot.unreplied },
    notes: [],
  });
  const document = liveDocument(doc, info);
  if (o.json) {
    out.write(`${JSON.stringify(document, null, 2)}\n`);
    return 0;
  }
  // Text: the screen without its short diagnosis, then the full diagnosis (commands never cut).
  const cols = out.columns || 120;
  const color = useColor(out);
  const lines = renderView(
    { doc: document as ViewDoc, previous: null, fillHistory: [], dropHistory: [], sort: "count", paused: false },
    { cols, rows: 1000, color, keys: false, diagnosis: diagnosis === null },
  );
  out.write(`${lines.join("\n")}\n`);
  if (diagnosis) out.write(`\n${renderDiagnosisText(diagnosis, { color, width: Math.min(cols, 120) })}`);
  return 0;
}

type Sink = "screen" | "ndjson" | "plain";

/** The continuous modes: full-screen view, NDJSON, or plain frames when stdout is not a terminal. */
class LiveSession {
  private readonly started = performance.now();
  private readonly netlink = netlinkAddon();
  private readonly reader = new HostReader(this.netlink);
  private readonly meter = new Meter();
  private readonly kernelLog = new KernelLogWatcher();
  private readonly sampler = new Sampler(false);
  private readonly tracker = new ScanTracker();
  private readonly screen: Screen | null;
  private readonly sink: Sink;
  private readonly intervalMs: number;
  private baseFacts: HostFacts | null = null;
  private factsAt = Number.NEGATIVE_INFINITY;
  private factsLoading = false;
  private scan: { result: ScanResult; info: LiveScanInfo } | null = null;
  private scanSeq = 0;
  private nextScanAt = 0;
  private scanError: string | null = null;
  private tickSeq = 0;
  private lastTickAt = Number.NEGATIVE_INFINITY;
  private nextTickAt = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private doc: LiveDocument | null = null;
  private sort: SortKey = "count";
  private paused = false;
  private ticking = false;
  private finish: ((code: number) => void) | null = null;
  private readonly trace = process.env.CTSCOPE_LIVE_TRACE || null;

  constructor(
    private readonly o: ValidLiveOptions,
    private readonly source: LiveSourceName,
    private readonly out: NodeJS.WriteStream,
    input: NodeJS.ReadStream,
  ) {
    this.intervalMs = o.interval * 1000;
    this.sink = o.json ? "ndjson" : out.isTTY && input.isTTY ? "screen" : "plain";
    this.screen = this.sink === "screen" ? new Screen(out, input) : null;
  }

  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      const signals: Array<[NodeJS.Signals, number]> = [
        ["SIGINT", 0],
        ["SIGTERM", 143],
        ["SIGHUP", 129],
      ];
      const handlers = signals.map(([sig, code]) => {
        const h = () => this.stop(code);
        process.on(sig, h);
        return [sig, h] as const;
      });
      this.finish = (code) => {
        for (const [sig, h] of handlers) process.off(sig, h);
        resolve(code);
      };
      this.screen?.enter(
        (k) => this.key(k),
        () => this.draw(),
      );
      this.kernelLog.start();
      // The first scan's diagnosis needs the slow facts (sysctls, kernel log): wait for them, briefly.
      const first = this.refreshFacts();
      const limit = new Promise<void>((r) => setTimeout(r, FIRST_FACTS_WAIT_MS).unref());
      void Promise.race([first, limit]).then(() => this.tick());
    });
  }

  private stop(code: number): void {
    if (!this.finish) return;
    const finish = this.finish;
    this.finish = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.screen?.leave();
    this.kernelLog.stop();
    void this.sampler.close().finally(() => finish(code));
  }

  private key(k: string): void {
    if (k === "q" || k === "Q" || k === "\x03") this.stop(0);
    else if (k === "p" || k === "P" || k === " ") {
      this.paused = !this.paused;
      this.draw();
      if (!this.paused) void this.tickNow();
    } else if (k === "s" || k === "S") {
      this.sort = SORT_KEYS[(SORT_KEYS.indexOf(this.sort) + 1) % SORT_KEYS.length]!;
      this.draw();
    }
  }

  private refreshFacts(): Promise<void> {
    if (this.factsLoading) return Promise.resolve();
    this.factsLoading = true;
    return collectLiveHostFacts()
      .then((f) => {
        this.baseFacts = f;
      })
      .catch(() => undefined)
      .finally(() => {
        this.factsLoading = false;
        this.factsAt = performance.now();
      });
  }

  private schedule(): void {
    if (!this.finish) return;
    const elapsed = performance.now() - this.started;
    const next = nextTickMs(this.intervalMs, elapsed, this.lastTickAt - this.started);
    this.nextTickAt = this.started + next;
    this.timer = setTimeout(() => void this.tick(), next - elapsed);
  }

  private async tickNow(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.tick();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (!this.finish || this.ticking) return;
    this.ticking = true;
    try {
      if (!this.paused) await this.sample();
    } catch (err) {
      this.scanError = (err as Error).message;
    } finally {
      this.ticking = false;
    }
    this.schedule();
  }

  private async sample(): Promise<void> {
    const reading = await this.reader.read();
    const rates = this.meter.update(reading);
    const now = performance.now();
    if (now - this.factsAt > FACTS_REFRESH_MS) void this.refreshFacts();
    if (!this.sampler.busy && now >= this.nextScanAt) this.startScan(reading);
    this.tickSeq++;
    this.lastTickAt = now;
    const info = liveInfo({
      seq: this.tickSeq,
      startedAt: this.started,
      source: this.source,
      sourceLabel: SOURCE_LABELS[this.source],
      intervalS: this.o.interval,
      count: reading.count,
      max: reading.max,
      totals: reading.stats?.totals ?? null,
      statsSource: reading.statsSource,
      rates,
      kernel: this.kernelLog.problem ? null : { all: this.kernelLog.tableFull, here: this.kernelLog.own },
      filtered: filtersGiven(this.o),
      scan: this.scan ? { info: this.scan.info, entries: this.scan.result.entries, unreplied: this.scan.result.unreplied } : null,
      notes: [this.kernelLog.problem, this.scanError].filter((x): x is string => x !== null),
    });
    this.meter.record(info.fill, info.drop_rate);
    this.doc = liveDocument(this.scan?.result.doc ?? null, info);
    this.tracker.observe(this.doc as ViewDoc);
    this.emit();
  }

  private startScan(reading: HostReading): void {
    const req = scanRequest(this.o, this.source, Math.max(this.o.top, VIEW_POOL_ROWS), 1);
    const t0 = performance.now();
    this.sampler
      .scan(req, factsWith(this.baseFacts, reading))
      .then((result) => {
        if (!this.finish) return;
        const period = nextScanPeriodMs(this.intervalMs, result.elapsedMs, result.cpuMs);
        this.nextScanAt = t0 + period;
        this.scanSeq++;
        this.scanError = null;
        this.scan = {
          result,
          info: {
            seq: this.scanSeq,
            time: new Date().toISOString(),
            elapsed_ms: Math.round(result.elapsedMs),
            cpu_ms: Math.round(result.cpuMs),
            period_s: period / 1000,
            entries: result.entries,
          },
        };
        // The first scan shows at once, unless a tick is about to show it; later ones at the next tick.
        const tickSoon = this.ticking || this.nextTickAt - performance.now() < this.intervalMs / 2;
        if (this.scanSeq === 1 && this.doc && !this.paused && !tickSoon) {
          this.doc = liveDocument(result.doc, { ...this.doc.live, scan: this.scan.info });
          this.tracker.observe(this.doc as ViewDoc);
          this.emit();
        }
      })
      .catch((err: unknown) => {
        // Closing the sampler at exit rejects the scan in flight: not a failure.
        if (!this.finish) return;
        this.nextScanAt = performance.now() + RETRY_MS;
        this.scanError = `scan failed: ${(err as Error).message}`;
        if (!(err instanceof CtscopeError) && this.sink === "ndjson") process.stderr.write(`ctscope: ${this.scanError}\n`);
      });
  }

  private emit(): void {
    const doc = this.doc;
    if (!doc) return;
    if (this.trace) {
      const m = process.memoryUsage();
      const cpu = process.cpuUsage();
      appendFileSync(
        this.trace,
        `${JSON.stringify({ t: Date.now(), tick: doc.live.seq, scan: doc.live.scan?.seq ?? 0, scan_ms: doc.live.scan?.elapsed_ms ?? null, count: doc.live.count, rss: m.rss, heap: m.heapUsed, scan_heap: this.scan?.result.heapBytes ?? null, recycled: this.sampler.recycled, cpu_ms: Math.round((cpu.user + cpu.system) / 1000) })}\n`,
      );
    }
    if (this.sink === "ndjson") {
      // Documents carry a scan: the first one waits for the first full scan.
      if (doc.live.scan) this.out.write(`${JSON.stringify(liveDocument(this.scan?.result.doc ?? null, doc.live, this.o.top))}\n`);
      return;
    }
    if (this.sink === "plain") {
      this.out.write(`${this.lines(this.out.columns || 120, 1000).join("\n")}\n\n`);
      return;
    }
    this.draw();
  }

  private lines(cols: number, rows: number): string[] {
    return renderView(
      {
        doc: this.doc as ViewDoc | null,
        previous: this.tracker.previous,
        fillHistory: this.meter.fillHistory,
        dropHistory: this.meter.dropHistory,
        sort: this.sort,
        paused: this.paused,
        status: this.scan ? (this.scanError ?? undefined) : (this.scanError ?? "scanning the table…"),
      },
      { cols, rows, color: useColor(this.out), keys: this.sink === "screen" },
    );
  }

  private draw(): void {
    if (!this.screen) return;
    this.screen.draw(this.lines(this.screen.cols, this.screen.rows));
  }
}

/** Run the live modes; returns the exit code. Throws CtscopeError subclasses (no source: InputError, exit 3). */
export async function runLiveSession(o: ValidLiveOptions): Promise<number> {
  const out = o.stdout ?? process.stdout;
  const input = o.stdin ?? process.stdin;
  // Bad filters and CIDRs fail before anything is read.
  compileFilter(o);
  parseCidrs(o.local, "--local");
  resolveThresholds(o.thresholds ?? {});
  const source = await chooseSource(o.source);
  if (o.once) return runOnce(o, source, out);
  return new LiveSession(o, source, out, input).run();
}
