/**
 * The cheap readings taken on every tick: the entry count, the max, the per-CPU statistics and
 * the kernel's table-full messages. Each comes from the first source that works here, and a
 * source that failed once is not retried every second.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync, readlinkSync } from "node:fs";
import { parseConntrackStats, parseKernelLog } from "../diagnose/index.js";
import type { ConntrackStats } from "../diagnose/types.js";
import type { NetlinkAddon } from "./netlink.js";

export const COUNT_PATH = "/proc/sys/net/netfilter/nf_conntrack_count";
export const MAX_PATH = "/proc/sys/net/netfilter/nf_conntrack_max";
export const STAT_PATH = "/proc/net/stat/nf_conntrack";

export type StatsSource = "proc" | "netlink" | "conntrack-S";

export interface HostReading {
  /** performance.now() when read. */
  at: number;
  count: number | null;
  countSource: "sysctl" | "netlink" | "stats" | null;
  max: number | null;
  stats: ConntrackStats | null;
  statsSource: StatsSource | null;
}

function readInt(path: string): number | null {
  try {
    const n = Number(readFileSync(path, "latin1").trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** Per-CPU rows from ctnetlink as the diagnosis' ConntrackStats (the `conntrack -S` form). */
export function statsFromRows(rows: Array<Record<string, number>>): ConntrackStats {
  const totals: Record<string, number> = {};
  const columns: string[] = [];
  for (const row of rows) {
    for (const [k, v] of Object.entries(row)) {
      if (k === "cpu") continue;
      if (!(k in totals)) columns.push(k);
      totals[k] = (totals[k] ?? 0) + v;
    }
  }
  return { format: "conntrack-S", columns, cpus: rows.length, entries: null, totals };
}

function conntrackS(): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("conntrack", ["-S"], { timeout: 5000, encoding: "latin1" }, (err, stdout) => resolve(err ? null : stdout));
  });
}

export class HostReader {
  private procStats = true;
  private netlinkStats: boolean;
  private conntrackStats = true;
  private sysctlCount = true;

  constructor(private readonly netlink: NetlinkAddon | null) {
    this.netlinkStats = netlink !== null;
  }

  async read(): Promise<HostReading> {
    const at = performance.now();
    const stats = await this.readStats();
    let count: number | null = null;
    let countSource: HostReading["countSource"] = null;
    if (this.sysctlCount) {
      count = readInt(COUNT_PATH);
      if (count === null) this.sysctlCount = false;
      else countSource = "sysctl";
    }
    if (count === null && this.netlink) {
      try {
        count = this.netlink.netlinkCount();
        countSource = "netlink";
      } catch {
        count = null;
      }
    }
    if (count === null && stats.stats?.entries != null) {
      count = stats.stats.entries;
      countSource = "stats";
    }
    return { at, count, countSource, max: readInt(MAX_PATH), stats: stats.stats, statsSource: stats.source };
  }

  private async readStats(): Promise<{ stats: ConntrackStats | null; source: StatsSource | null }> {
    if (this.procStats) {
      try {
        return { stats: parseConntrackStats(readFileSync(STAT_PATH, "latin1")), source: "proc" };
      } catch {
        this.procStats = false;
      }
    }
    if (this.netlinkStats && this.netlink) {
      try {
        return { stats: statsFromRows(this.netlink.netlinkCpuStats()), source: "netlink" };
      } catch {
        this.netlinkStats = false;
      }
    }
    if (this.conntrackStats) {
      const out = await conntrackS();
      try {
        if (out !== null) return { stats: parseConntrackStats(out), source: "conntrack-S" };
      } catch {
        // not conntrack -S output
      }
      this.conntrackStats = false;
    }
    return { stats: null, source: null };
  }
}

/** This process's network namespace as the kernel log names it: its inode, or "init". */
export function ownNetns(): string | null {
  try {
    const mine = readlinkSync("/proc/self/ns/net");
    let init: string | null = null;
    try {
      init = readlinkSync("/proc/1/ns/net");
    } catch {
      init = null;
    }
    if (init === mine) return "init";
    return /\[(\d+)\]/.exec(mine)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Table-full messages the kernel logs from now on (`dmesg --follow-new`). */
export class KernelLogWatcher {
  /** Table-full messages since start, any namespace (plus the ones the rate limiter suppressed). */
  tableFull = 0;
  suppressed = 0;
  /** Table-full messages naming this process's namespace. */
  own = 0;
  /** null while it runs; the reason once it cannot. */
  problem: string | null = null;
  private child: ChildProcess | null = null;
  private pending = "";

  constructor(private readonly netns: string | null = ownNetns()) {}

  start(): void {
    let child: ChildProcess;
    try {
      child = spawn("dmesg", ["--follow-new"], { stdio: ["ignore", "pipe", "pipe"] });
    } catch (err) {
      this.problem = `dmesg: ${(err as Error).message}`;
      return;
    }
    this.child = child;
    let stderr = "";
    child.stdout?.setEncoding("latin1");
    child.stdout?.on("data", (d: string) => this.feed(d));
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      this.problem = err.code === "ENOENT" ? "dmesg not installed" : `dmesg: ${err.message}`;
      this.child = null;
    });
    child.on("exit", (code) => {
      if (this.child === child && code !== null) {
        this.problem = `dmesg exited (${code})${stderr.trim() ? `: ${stderr.trim().split("\n")[0]}` : ""}`;
      }
      this.child = null;
    });
  }

  /** Feed log text (whole or partial lines). */
  feed(text: string): void {
    const all = this.pending + text;
    const cut = all.lastIndexOf("\n");
    if (cut < 0) {
      this.pending = all;
      return;
    }
    this.pending = all.slice(cut + 1);
    const facts = parseKernelLog(all.slice(0, cut + 1));
    this.tableFull += facts.tableFull;
    this.suppressed += facts.suppressed;
    if (this.netns !== null) this.own += facts.byNetns[this.netns] ?? 0;
  }

  stop(): void {
    const c = this.child;
    this.child = null;
    if (c && c.exitCode === null) c.kill("SIGTERM");
  }
}
