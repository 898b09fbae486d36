/**
 * Real-kernel test harness: throwaway network namespaces with conntrack active, a known set of
 * flows, and a table filled to nf_conntrack_max. Needs root, iproute2, nftables, conntrack-tools
 * and python3; tests skip (with the reason printed) when any is missing.
 *
 * Nothing global is changed: every sysctl written is a per-namespace net.netfilter.* value, and
 * the flood fills only its own namespace's table (the count is per namespace, the max is global).
 * Destroying the namespace frees its entries.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const FLOWS_PY = join(HERE, "flows.py");
const FLOOD_PY = join(HERE, "flood.py");

/** Every namespace this harness creates is named NS_PREFIX<tag>-<pid>-<ms since epoch>. */
export const NS_PREFIX = "ctscope-test-";
/** Namespaces of dead owners, or older than this, are removed as leftovers of a failed run. */
const STALE_MS = 60 * 60 * 1000;

/** The flood uses destinations in this prefix; the namespace drops input from and to it. */
export const FLOOD_PREFIX = "127.64.0.0/10";

export type Support = { ok: true } | { ok: false; reason: string };

let support: Support | undefined;

function onPath(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function python(): string {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

/** Whether real-kernel tests can run here; the reason when they cannot. Cached. */
export function kernelTestSupport(): Support {
  if (support) return support;
  support = probeSupport();
  return support;
}

function probeSupport(): Support {
  if (process.platform !== "linux") return { ok: false, reason: `not Linux (${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: "not root (network namespaces need CAP_SYS_ADMIN)" };
  for (const cmd of ["ip", "nft", "conntrack"]) {
    if (!onPath(cmd)) return { ok: false, reason: `${cmd} not found on PATH` };
  }
  if (python() === "python3" && !onPath("python3")) return { ok: false, reason: "python3 not found" };
  const name = `${NS_PREFIX}probe-${process.pid}-${Date.now()}`;
  try {
    execFileSync("ip", ["netns", "add", name], { stdio: "pipe" });
  } catch (e) {
    return { ok: false, reason: `cannot create a network namespace: ${errText(e)}` };
  }
  try {
    execFileSync("ip", ["netns", "exec", name, "nft", "add", "table", "inet", "ctscope_probe"], { stdio: "pipe" });
    if (!existsSync("/proc/sys/net/netfilter/nf_conntrack_max")) return { ok: false, reason: "nf_conntrack is not loaded" };
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `nftables unusable in a namespace: ${errText(e)}` };
  } finally {
    try {
      execFileSync("ip", ["netns", "del", name], { stdio: "pipe" });
    } catch {
      // removed as a leftover by the next run
    }
  }
}

function errText(e: unknown): string {
  const err = e as { stderr?: Buffer | string; message?: string };
  const s = err.stderr ? err.stderr.toString().trim() : "";
  return s || err.message || String(e);
}

/** Names of this harness's namespaces whose owner process is gone or that are older than an hour. */
export function staleNamespaces(): string[] {
  let out: string;
  try {
    out = execFileSync("ip", ["netns", "list"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return [];
  }
  const stale: string[] = [];
  for (const line of out.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    if (!name.startsWith(NS_PREFIX)) continue;
    const m = /-(\d+)-(\d+)$/.exec(name);
    if (!m) {
      stale.push(name);
      continue;
    }
    const pid = Number(m[1]);
    const born = Number(m[2]);
    if (!alive(pid) || Date.now() - born > STALE_MS) stale.push(name);
  }
  return stale;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove leftovers of earlier runs (their processes first, so the namespace is freed), and their capture directories. */
export function removeStaleNamespaces(): string[] {
  const stale = staleNamespaces();
  for (const name of stale) deleteNamespaceSync(name);
  for (const d of readdirSync(tmpdir())) {
    const m = new RegExp(`^${NS_PREFIX}[a-z0-9]+-(\\d+)-\\w{6}$`).exec(d);
    if (m && !alive(Number(m[1]))) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
  return stale;
}

function deleteNamespaceSync(name: string): void {
  // Only processes inside this namespace: all were started by this harness.
  try {
    const pids = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    for (const p of pids.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(p), "SIGKILL");
      } catch {
        // already gone
      }
    }
  } catch {
    // namespace already gone
  }
  try {
    execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
  } catch {
    // already gone
  }
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ExecOptions {
  /** Resolve with a non-zero code instead of rejecting. */
  allowFail?: boolean;
  timeoutMs?: number;
}

export interface NamespaceOptions {
  /** Input to these TCP ports is dropped, so connects stay UNREPLIED SYN_SENT. */
  dropTcpPorts?: number[];
  /** Input to these UDP ports is dropped, so datagrams stay UNREPLIED. */
  dropUdpPorts?: number[];
  /** Per-namespace net.netfilter.* sysctls to set (never global ones). */
  sysctls?: Record<string, string | number>;
}

export interface Ns {
  readonly name: string;
  /** A private directory for captures, removed by destroy(). */
  readonly dir: string;
  /** Run cmd inside the namespace. */
  exec(cmd: string, args?: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Start a long-running process inside the namespace; destroy() kills it. */
  spawn(cmd: string, args?: string[]): ChildProcess;
  /** Write a per-namespace sysctl (net.netfilter.*, net.ipv4.ping_group_range). */
  sysctl(key: string, value: string | number): Promise<void>;
  /** Kill its processes, delete the namespace (which frees its conntrack entries) and the directory. */
  destroy(): Promise<void>;
}

const live = new Set<string>();
let exitHook = false;

function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  // Last resort when a test dies before afterAll: no namespace outlives the worker process.
  process.on("exit", () => {
    for (const name of live) deleteNamespaceSync(name);
  });
}

export const DEFAULT_DROP_TCP = [9999];
export const DEFAULT_DROP_UDP = [9998];

function ruleset(opts: NamespaceOptions): string {
  const tcp = opts.dropTcpPorts ?? DEFAULT_DROP_TCP;
  const udp = opts.dropUdpPorts ?? DEFAULT_DROP_UDP;
  const set = (ports: number[]) => `{ ${ports.join(", ")} }`;
  // Drops come before the ct rule; the ct rule is what makes conntrack track this namespace.
  // Dropping at input keeps entries: on loopback they are confirmed at postrouting, before input.
  return [
    "table inet ctscope_test {",
    "  chain input {",
    "    type filter hook input priority 0; policy accept;",
    `    ip daddr ${FLOOD_PREFIX} drop`,
    `    ip saddr ${FLOOD_PREFIX} drop`,
    tcp.length > 0 ? `    tcp dport ${set(tcp)} drop` : "",
    udp.length > 0 ? `    udp dport ${set(udp)} drop` : "",
    "    ct state established,related accept",
    "  }",
    "}",
    "",
  ]
    .filter((l) => l !== "")
    .join("\n");
}

function run(cmd: string, args: string[], opts: ExecOptions & { input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      args,
      { encoding: "utf8", maxBuffer: 512 * 1024 * 1024, timeout: opts.timeoutMs ?? 30_000, killSignal: "SIGKILL" },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        if (err && !opts.allowFail) {
          reject(new Error(`${cmd} ${args.join(" ")} failed (${err.killed ? "timed out" : `exit ${code}`}): ${stderr.trim()}`));
          return;
        }
        resolve({ stdout, stderr, code });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** A fresh namespace named NS_PREFIX<tag>-<pid>-<ms>, lo up, conntrack active, chosen ports dropped. */
export async function createNamespace(tag = "t", opts: NamespaceOptions = {}): Promise<Ns> {
  if (!/^[a-z0-9]+$/.test(tag)) throw new Error(`namespace tag must be [a-z0-9]+: ${tag}`);
  removeStaleNamespaces();
  installExitHook();
  const name = `${NS_PREFIX}${tag}-${process.pid}-${Date.now()}`;
  await run("ip", ["netns", "add", name]);
  live.add(name);
  const dir = mkdtempSync(join(tmpdir(), `${NS_PREFIX}${tag}-${process.pid}-`));
  const children = new Set<ChildProcess>();
  const exec = (cmd: string, args: string[] = [], o: ExecOptions & { input?: string } = {}) =>
    run("ip", ["netns", "exec", name, cmd, ...args], o);
  const ns: Ns = {
    name,
    dir,
    exec: (cmd, args = [], o = {}) => exec(cmd, args, o),
    spawn(cmd, args = []) {
      const child = spawn("ip", ["netns", "exec", name, cmd, ...args], { stdio: ["pipe", "pipe", "pipe"] });
      children.add(child);
      child.on("exit", () => children.delete(child));
      return child;
    },
    async sysctl(key, value) {
      await exec("sysctl", ["-q", "-w", `${key}=${value}`]);
    },
    async destroy() {
      for (const c of children) c.kill("SIGKILL");
      deleteNamespaceSync(name);
      live.delete(name);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await exec("ip", ["link", "set", "lo", "up"]);
    await exec("nft", ["-f", "-"], { input: ruleset(opts) });
    for (const [k, v] of Object.entries(opts.sysctls ?? {})) await ns.sysctl(k, v);
  } catch (e) {
    await ns.destroy();
    throw e;
  }
  return ns;
}

/** One expected flow class: what the kernel must show for the flows opened. */
export interface ExpectedClass {
  label: string;
  family: 4 | 6;
  /** l4 protocol number */
  proto: number;
  protoName: "tcp" | "udp" | "icmp";
  state: string | null;
  unreplied: boolean;
  assured: boolean;
  /** Canonical text (IPv6 compressed). */
  src: string;
  dst: string;
  /** null for ICMP */
  dport: number | null;
  count: number;
}

export interface FlowCounts {
  tcp_established: number;
  tcp_unreplied: number;
  udp_unreplied: number;
  udp_replied: number;
  icmp: number;
  tcp6_established: number;
}

/** Distinct counts, so a class mixed up with another shows. */
export const DEFAULT_FLOW_COUNTS: FlowCounts = {
  tcp_established: 7,
  tcp_unreplied: 5,
  udp_unreplied: 4,
  udp_replied: 3,
  icmp: 2,
  tcp6_established: 6,
};

export function expectedClasses(c: FlowCounts = DEFAULT_FLOW_COUNTS): ExpectedClass[] {
  const v4 = { family: 4 as const, src: "127.0.0.1" };
  return [
    {
      ...v4,
      label: "tcp ESTABLISHED 127.0.0.1:8080",
      proto: 6,
      protoName: "tcp",
      state: "ESTABLISHED",
      unreplied: false,
      assured: true,
      dst: "127.0.0.1",
      dport: 8080,
      count: c.tcp_established,
    },
    {
      ...v4,
      label: "tcp SYN_SENT UNREPLIED 127.0.0.3:9999",
      proto: 6,
      protoName: "tcp",
      state: "SYN_SENT",
      unreplied: true,
      assured: false,
      dst: "127.0.0.3",
      dport: 9999,
      count: c.tcp_unreplied,
    },
    {
      ...v4,
      label: "udp UNREPLIED 127.0.0.2:9998",
      proto: 17,
      protoName: "udp",
      state: null,
      unreplied: true,
      assured: false,
      dst: "127.0.0.2",
      dport: 9998,
      count: c.udp_unreplied,
    },
    {
      ...v4,
      label: "udp replied 127.0.0.1:5353",
      proto: 17,
      protoName: "udp",
      state: null,
      unreplied: false,
      assured: false,
      dst: "127.0.0.1",
      dport: 5353,
      count: c.udp_replied,
    },
    {
      ...v4,
      label: "icmp echo 127.0.0.4",
      proto: 1,
      protoName: "icmp",
      state: null,
      unreplied: false,
      assured: false,
      dst: "127.0.0.4",
      dport: null,
      count: c.icmp,
    },
    {
      family: 6,
      label: "tcp6 ESTABLISHED [::1]:8081",
      proto: 6,
      protoName: "tcp",
      state: "ESTABLISHED",
      unreplied: false,
      assured: true,
      src: "::1",
      dst: "::1",
      dport: 8081,
      count: c.tcp6_established,
    },
  ];
}

/** The same table, captured in every text form within a few milliseconds. */
export interface Captures {
  /** /proc/net/nf_conntrack (IPv6 expanded) */
  proc: string;
  /** conntrack -L -o extended */
  extended: string;
  /** conntrack -L (no l3 columns) */
  plain: string;
  /** conntrack -L -o xml */
  xml: string;
  /** The "N flow entries have been shown." trailer conntrack wrote to stderr for -L. */
  trailer: string;
}

export type CaptureName = Exclude<keyof Captures, "trailer">;

export interface KnownFlows {
  counts: FlowCounts;
  expected: ExpectedClass[];
  total: number;
  texts: Captures;
  /** The texts saved as files in ns.dir (for analyze({inputs})). */
  files: Record<CaptureName, string>;
  /** Close every socket (the python helper exits). */
  stop(): Promise<void>;
}

/** Capture the namespace's table in all four text forms at (nearly) the same moment. */
export async function captureTable(ns: Ns): Promise<Captures> {
  const [proc, extended, plain, xml] = await Promise.all([
    ns.exec("cat", ["/proc/net/nf_conntrack"]),
    ns.exec("conntrack", ["-L", "-o", "extended"]),
    ns.exec("conntrack", ["-L"]),
    ns.exec("conntrack", ["-L", "-o", "xml"]),
  ]);
  return { proc: proc.stdout, extended: extended.stdout, plain: plain.stdout, xml: xml.stdout, trailer: plain.stderr.trim() };
}

function waitForLine(child: ChildProcess, prefix: string, timeoutMs: number, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => done(new Error(`${what}: no "${prefix}" within ${timeoutMs} ms; stderr: ${err.trim()}`)), timeoutMs);
    const onOut = (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith(prefix));
      if (line !== undefined) done(null, line.slice(prefix.length));
    };
    const onErr = (d: Buffer) => {
      err += d.toString();
    };
    const onExit = (code: number | null) => done(new Error(`${what} exited (${code}) before "${prefix}": ${err.trim()}`));
    function done(e: Error | null, value?: string) {
      clearTimeout(timer);
      child.stdout?.off("data", onOut);
      child.stderr?.off("data", onErr);
      child.off("exit", onExit);
      if (e) reject(e);
      else resolve(value ?? "");
    }
    child.stdout?.on("data", onOut);
    child.stderr?.on("data", onErr);
    child.on("exit", onExit);
  });
}

/**
 * Open the known flows in a fresh namespace (created with the default drop ports), capture the
 * table in every form while they are all open, and keep them open until stop().
 */
export async function openKnownFlows(ns: Ns, counts: FlowCounts = DEFAULT_FLOW_COUNTS): Promise<KnownFlows> {
  const child = ns.spawn(python(), [FLOWS_PY, JSON.stringify(counts)]);
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const stop = async () => {
    if (exited) return;
    const gone = new Promise<void>((r) => child.once("exit", () => r()));
    child.stdin?.end("stop\n");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  };
  try {
    await waitForLine(child, "READY ", 20_000, "flows.py");
    const texts = await captureTable(ns);
    const files = {} as Record<CaptureName, string>;
    for (const [k, ext] of [
      ["proc", "txt"],
      ["extended", "txt"],
      ["plain", "txt"],
      ["xml", "xml"],
    ] as const) {
      files[k] = join(ns.dir, `flows-${k}.${ext}`);
      writeFileSync(files[k], texts[k]);
    }
    const expected = expectedClasses(counts);
    return { counts, expected, total: expected.reduce((s, c) => s + c.count, 0), texts, files, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Sum of one `field=` over the cpu rows of `conntrack -S`. */
export function sumConntrackS(text: string, field: string): number {
  let sum = 0;
  const re = new RegExp(`(?:^|\\s)${field}=(\\d+)`);
  for (const line of text.split("\n")) {
    const m = re.exec(line);
    if (m) sum += Number(m[1]);
  }
  return sum;
}

/** One column of /proc/net/stat/nf_conntrack (hex per cpu row), summed; "entries" is the first row's (it repeats). */
export function sumProcStat(text: string, column: string): number {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = (lines[0] ?? "").trim().split(/\s+/);
  const i = header.indexOf(column);
  if (i < 0) throw new Error(`no column ${column} in /proc/net/stat/nf_conntrack header: ${lines[0]}`);
  const rows = lines.slice(1).map((l) => Number.parseInt(l.trim().split(/\s+/)[i] ?? "", 16));
  if (column === "entries") return rows[0] ?? 0;
  return rows.reduce((s, v) => s + v, 0);
}

export interface KernelLog {
  /** false when dmesg could not be read (then lines is empty). */
  readable: boolean;
  /** Why it was unreadable. */
  error?: string;
  /** Lines that appeared while the flood ran. */
  lines: string[];
}

async function dmesgLines(): Promise<{ lines: string[]; error?: string }> {
  const r = await run("dmesg", [], { allowFail: true });
  if (r.code !== 0) return { lines: [], error: r.stderr.trim() || `dmesg exit ${r.code}` };
  return { lines: r.stdout.split("\n").filter((l) => l !== "") };
}

function newLines(before: string[], after: string[]): string[] {
  const last = before[before.length - 1];
  if (last === undefined) return after;
  const i = after.lastIndexOf(last);
  // The ring buffer wrapped: keep the lines not seen before.
  if (i < 0) {
    const seen = new Set(before);
    return after.filter((l) => !seen.has(l));
  }
  return after.slice(i + 1);
}

export interface FloodResult {
  /** nf_conntrack_count inside the namespace after the flood. */
  count: number;
  /** nf_conntrack_count once the table was filled, before the new flows were sent. */
  countBeforeOverflow: number;
  /** The global nf_conntrack_max (read inside the namespace). */
  max: number;
  /** Flows created by the flood (the rest of the table is whatever the namespace held). */
  flows: number;
  /** New flows sent once the table was full, and how many sendto() calls conntrack refused. */
  overflowSent: number;
  overflowRejected: number;
  fillSeconds: number;
  /** The namespace's inode, as printed in "table full in netns N". */
  netnsInode: number;
  /** Texts read inside the namespace after the flood. */
  procStat: string;
  conntrackS: string;
  /** `sysctl -a | grep netfilter` */
  sysctl: string;
  /** The nf_conntrack line of /proc/slabinfo (global), "" when unreadable. */
  slabinfo: string;
  kernelLog: KernelLog;
  /** Kernel log lines saying the table was full (any namespace). */
  tableFullLines: string[];
  /** Of those, the ones for this namespace ("in netns <inode>", or without a netns when the kernel names none). */
  ownTableFullLines: string[];
  /** drop= summed over `conntrack -S`, and the drop column of /proc/net/stat/nf_conntrack. */
  dropsConntrackS: number;
  dropsProcStat: number;
  /** The texts saved as files in ns.dir. */
  files: { procStat: string; conntrackS: string; sysctl: string; kernelLog: string };
}

export interface FloodOptions {
  /** Give up (with a clear error) when the max is not reached within this many seconds. */
  deadlineSec?: number;
  /** New flows to send once full (each one is a drop). */
  overflow?: number;
}

/**
 * Fill the namespace's conntrack table to the global nf_conntrack_max with ASSURED UDP entries,
 * then send new flows that the full table drops. Sets only the namespace's UDP timeouts.
 */
export async function fillTableToMax(ns: Ns, opts: FloodOptions = {}): Promise<FloodResult> {
  const deadlineSec = opts.deadlineSec ?? 60;
  // Long enough that no flood entry expires during a test.
  await ns.sysctl("net.netfilter.nf_conntrack_udp_timeout", 3600);
  await ns.sysctl("net.netfilter.nf_conntrack_udp_timeout_stream", 3600);
  const inode = Number(/\[(\d+)\]/.exec((await ns.exec("readlink", ["/proc/self/ns/net"])).stdout)?.[1] ?? "0");
  const before = await dmesgLines();
  const r = await ns.exec(python(), [FLOOD_PY, JSON.stringify({ deadlineSec, overflow: opts.overflow ?? 2000 })], {
    allowFail: true,
    timeoutMs: (deadlineSec + 15) * 1000,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  let out: Record<string, unknown>;
  try {
    out = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`flood.py failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim() || "no output (timed out?)"}`);
  }
  if (r.code !== 0 || typeof out.error === "string") {
    throw new Error(`conntrack table not filled within ${deadlineSec} s: ${JSON.stringify(out)} ${r.stderr.trim()}`);
  }
  const after = await dmesgLines();
  const [procStat, conntrackS, sysctl, countText] = await Promise.all([
    ns.exec("cat", ["/proc/net/stat/nf_conntrack"]),
    ns.exec("conntrack", ["-S"]),
    ns.exec("sh", ["-c", "sysctl -a 2>/dev/null | grep netfilter"]),
    ns.exec("cat", ["/proc/sys/net/netfilter/nf_conntrack_count"]),
  ]);
  let slabinfo = "";
  try {
    slabinfo = (await run("grep", ["^nf_conntrack ", "/proc/slabinfo"], { allowFail: true })).stdout.trim();
  } catch {
    slabinfo = "";
  }
  const kernelLog: KernelLog =
    before.error !== undefined || after.error !== undefined
      ? { readable: false, error: before.error ?? after.error ?? "", lines: [] }
      : { readable: true, lines: newLines(before.lines, after.lines) };
  const tableFullLines = kernelLog.lines.filter((l) => l.includes("table full"));
  const ownTableFullLines = tableFullLines.filter((l) => {
    const m = /in netns (\d+)/.exec(l);
    return m ? Number(m[1]) === inode : true;
  });
  const files = {
    procStat: join(ns.dir, "stat-nf_conntrack.txt"),
    conntrackS: join(ns.dir, "conntrack-S.txt"),
    sysctl: join(ns.dir, "sysctl-netfilter.txt"),
    kernelLog: join(ns.dir, "kernel-log.txt"),
  };
  writeFileSync(files.procStat, procStat.stdout);
  writeFileSync(files.conntrackS, conntrackS.stdout);
  writeFileSync(files.sysctl, sysctl.stdout);
  writeFileSync(files.kernelLog, kernelLog.lines.map((l) => `${l}\n`).join(""));
  return {
    count: Number(countText.stdout.trim()),
    max: Number(out.max),
    flows: Number(out.flows),
    overflowSent: Number(out.overflowSent),
    overflowRejected: Number(out.overflowRejected),
    countBeforeOverflow: Number(out.countBeforeOverflow),
    fillSeconds: Number(out.fillSeconds),
    netnsInode: inode,
    procStat: procStat.stdout,
    conntrackS: conntrackS.stdout,
    sysctl: sysctl.stdout,
    slabinfo,
    kernelLog,
    tableFullLines,
    ownTableFullLines,
    dropsConntrackS: sumConntrackS(conntrackS.stdout, "drop"),
    dropsProcStat: sumProcStat(procStat.stdout, "drop"),
    files,
  };
}

/**
 * Save the namespace's whole table to a file without holding it in memory (for a full table:
 * ~262k lines). form "proc" reads /proc/net/nf_conntrack, "extended" runs conntrack -L -o extended.
 */
export async function dumpTable(ns: Ns, form: "proc" | "extended" = "proc"): Promise<string> {
  const file = join(ns.dir, `dump-${form}-${Date.now()}.txt`);
  const cmd = form === "proc" ? "cat /proc/net/nf_conntrack" : "conntrack -L -o extended 2>/dev/null";
  await ns.exec("sh", ["-c", `${cmd} > '${file}'`], { timeoutMs: 120_000 });
  return file;
}
