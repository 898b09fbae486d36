/**
 * HostFacts: what the host says about its conntrack table, from the live system, from files given
 * on the command line (--sysctl, --stats, --kernel-log), or from texts (tests, namespaces).
 * Everything funnels through the pure parsers, so the three paths agree.
 */
import { execFile } from "node:child_process";
import { readdir, readFile, readlink } from "node:fs/promises";
import { machine } from "node:os";
import { describeErrno, InputError } from "../errors.js";
import { parseKernelLog } from "./kernel-log.js";
import { parseMeminfo, parseSlabinfo, wordBitsOfArch } from "./proc-text.js";
import { parseConntrackStats } from "./stats.js";
import { conntrackSetting, conntrackTimeouts, hashsizeFromSysctl, intValue, parseSysctl } from "./sysctl.js";
import type { HostFacts } from "./types.js";

export type { HostFacts } from "./types.js";

/** Raw texts of the host facts; each is optional. */
export interface HostFactTexts {
  /** sysctl -a / sysctl net.netfilter / KEY=VALUE lines. */
  sysctl?: string;
  /** /proc/net/stat/nf_conntrack or conntrack -S output. */
  stats?: string;
  /** dmesg, kern.log/syslog or journalctl -k output. */
  kernelLog?: string;
  /** /proc/slabinfo. */
  slabinfo?: string;
  /** /proc/meminfo. */
  meminfo?: string;
  /** 32 or 64; when absent it is taken from the sysctl kernel.arch value if present. */
  wordBits?: number;
}

function emptyFacts(origin: HostFacts["origin"]): HostFacts {
  return {
    origin,
    sysctl: {},
    count: null,
    max: null,
    buckets: null,
    hashsize: null,
    timeouts: {},
    acct: null,
    stats: null,
    slabObjectSize: null,
    memTotalBytes: null,
    wordBits: null,
    kernelLog: null,
    netns: null,
    netnsIsInit: null,
    notes: [],
  };
}

/** Fill the sysctl-derived fields from a dotted key → value map. */
function applySysctl(f: HostFacts, sysctl: Record<string, string>): void {
  f.sysctl = sysctl;
  f.count = intValue(conntrackSetting(sysctl, "count"));
  f.max = intValue(conntrackSetting(sysctl, "max"));
  f.buckets = intValue(conntrackSetting(sysctl, "buckets"));
  f.hashsize ??= hashsizeFromSysctl(sysctl);
  f.timeouts = conntrackTimeouts(sysctl);
  const acct = intValue(conntrackSetting(sysctl, "acct"));
  f.acct = acct === null ? null : acct !== 0;
  const arch = sysctl["kernel.arch"];
  if (arch !== undefined) f.wordBits ??= wordBitsOfArch(arch);
}

/** Build HostFacts from texts. Parse errors throw InputError (message without a path). */
export function collectHostFactsFromTexts(texts: HostFactTexts, origin: HostFacts["origin"] = "texts"): HostFacts {
  const f = emptyFacts(origin);
  if (texts.wordBits !== undefined) f.wordBits = texts.wordBits;
  if (texts.sysctl !== undefined) {
    applySysctl(f, parseSysctl(texts.sysctl));
    if (f.max === null) f.notes.push("nf_conntrack_max is not in the sysctl input");
  }
  if (texts.stats !== undefined) f.stats = parseConntrackStats(texts.stats);
  if (texts.kernelLog !== undefined) f.kernelLog = parseKernelLog(texts.kernelLog);
  if (texts.slabinfo !== undefined) f.slabObjectSize = parseSlabinfo(texts.slabinfo);
  if (texts.meminfo !== undefined) f.memTotalBytes = parseMeminfo(texts.meminfo);
  return f;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "latin1");
  } catch (err) {
    throw new InputError(`${path}: ${describeErrno(err)}`, path);
  }
}

/** Parse one file's text, prefixing parse errors with the path. */
function parsing<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InputError) throw new InputError(`${path}: ${err.message}`, path);
    throw err;
  }
}

/** Facts from files given on the command line. Unreadable or unparseable files throw InputError `path: reason`. */
export async function loadOfflineHostFacts(files: { sysctl?: string; stats?: string; kernelLog?: string }): Promise<HostFacts> {
  const f = emptyFacts("files");
  if (files.sysctl !== undefined) {
    const path = files.sysctl;
    const text = await readText(path);
    applySysctl(
      f,
      parsing(path, () => parseSysctl(text)),
    );
    if (f.max === null) f.notes.push(`nf_conntrack_max is not in ${path}`);
  }
  if (files.stats !== undefined) {
    const path = files.stats;
    const text = await readText(path);
    f.stats = parsing(path, () => parseConntrackStats(text));
  }
  if (files.kernelLog !== undefined) {
    const path = files.kernelLog;
    const text = await readText(path);
    f.kernelLog = parsing(path, () => parseKernelLog(text));
  }
  return f;
}

/** Run a command and return stdout, or null (with the reason in notes) when it fails. */
function run(cmd: string, args: string[], notes: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 10_000, maxBuffer: 256 * 1024 * 1024, encoding: "latin1" }, (err, stdout) => {
      if (err) {
        const e = err as NodeJS.ErrnoException & { stderr?: string };
        notes.push(`${cmd} ${args.join(" ")}: ${e.code === "ENOENT" ? "not installed" : (e.message.split("\n")[0] ?? "failed")}`);
        resolve(null);
      } else resolve(stdout);
    });
  });
}

async function tryRead(path: string, notes: string[], what?: string): Promise<string | null> {
  try {
    return await readFile(path, "latin1");
  } catch (err) {
    if (what) notes.push(`${what}: ${path}: ${describeErrno(err)}`);
    return null;
  }
}

const NETFILTER_DIR = "/proc/sys/net/netfilter";

/** "4026531840" from the net:[4026531840] link, or null when unreadable. */
async function netnsInode(link: string): Promise<string | null> {
  try {
    return /^net:\[(\d+)\]$/.exec(await readlink(link))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Read the live host: sysctls, hashsize, stats, slab size, RAM, word size and the kernel log. Never throws for a missing fact. */
export async function collectLiveHostFacts(): Promise<HostFacts> {
  const f = emptyFacts("live");
  const notes = f.notes;
  const sysctl: Record<string, string> = {};
  let names: string[] = [];
  try {
    names = (await readdir(NETFILTER_DIR)).filter((n) => n.startsWith("nf_conntrack_"));
  } catch (err) {
    notes.push(`${NETFILTER_DIR}: ${describeErrno(err)} (nf_conntrack not loaded?)`);
  }
  await Promise.all(
    names.map(async (n) => {
      const v = await tryRead(`${NETFILTER_DIR}/${n}`, notes);
      if (v !== null) sysctl[`net.netfilter.${n}`] = v.trim();
    }),
  );
  const arch = machine();
  sysctl["kernel.arch"] = arch;
  applySysctl(f, sysctl);
  f.wordBits = wordBitsOfArch(arch);
  if (names.length > 0 && f.count === null) notes.push(`${NETFILTER_DIR}/nf_conntrack_count: not readable`);

  const hashsize = await tryRead("/sys/module/nf_conntrack/parameters/hashsize", notes, names.length > 0 ? "hashsize" : undefined);
  if (hashsize !== null) f.hashsize = intValue(hashsize);

  const statText = await tryRead("/proc/net/stat/nf_conntrack", notes);
  try {
    if (statText !== null) f.stats = parseConntrackStats(statText);
  } catch (err) {
    notes.push(`/proc/net/stat/nf_conntrack: ${(err as Error).message}`);
  }
  if (!f.stats && names.length > 0) {
    const out = await run("conntrack", ["-S"], notes);
    try {
      if (out !== null) f.stats = parseConntrackStats(out);
    } catch (err) {
      notes.push(`conntrack -S: ${(err as Error).message}`);
    }
  }

  const slab = await tryRead("/proc/slabinfo", notes);
  if (slab !== null) f.slabObjectSize = parseSlabinfo(slab);
  const mem = await tryRead("/proc/meminfo", notes, "RAM");
  if (mem !== null) f.memTotalBytes = parseMeminfo(mem);

  const ns = await netnsInode("/proc/self/ns/net");
  if (ns !== null) {
    f.netns = ns;
    const init = await netnsInode("/proc/1/ns/net");
    f.netnsIsInit = init === null ? null : init === ns;
  }

  let log = await run("dmesg", [], notes);
  // dmesg is refused to non-root users when kernel.dmesg_restrict=1; the journal may still be readable.
  if (log === null) log = await run("journalctl", ["-k", "--no-pager", "-o", "short-iso"], notes);
  if (log !== null) {
    f.kernelLog = parseKernelLog(log);
    const k = f.kernelLog;
    // Age of the last message about this namespace when there is one, else of the last message.
    const own = f.netns === null ? undefined : (k.lastByNetns[f.netns] ?? (f.netnsIsInit !== false ? k.lastByNetns.init : undefined));
    const last = own ?? k.last;
    if (last?.clock === "uptime") {
      const up = await tryRead("/proc/uptime", notes);
      const now = up === null ? Number.NaN : Number(up.split(/\s+/)[0]);
      if (Number.isFinite(now)) k.lastAgeSeconds = Math.max(0, now - last.seconds);
    } else if (last?.clock === "wallclock" && last.yearKnown) {
      k.lastAgeSeconds = Math.max(0, Date.now() / 1000 - last.seconds);
    }
  }
  return f;
}
