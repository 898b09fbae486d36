/**
 * The live table's sources, fastest first: the native ctnetlink dump, /proc/net/nf_conntrack read
 * in a loop, and `conntrack -L -o extended` piped into the stream path. Probing is cheap and never
 * writes anything; when nothing works, one line says what is missing and how to get it (exit 3).
 */
import { execFile } from "node:child_process";
import { closeSync, existsSync, openSync } from "node:fs";
import { InputError, UsageError } from "../errors.js";
import { explainNetlinkError, netlinkAddon } from "./netlink.js";
import type { LiveSourceName, SourceChoice } from "./options.js";

export const PROC_TABLE = "/proc/net/nf_conntrack";
export const CONNTRACK_ARGS = ["-L", "-o", "extended"];

/** In order of preference: the first one that works is what auto picks. */
export const SOURCE_ORDER: readonly LiveSourceName[] = ["netlink", "proc", "conntrack"];

export const SOURCE_LABELS: Record<LiveSourceName, string> = {
  netlink: "ctnetlink dump (native)",
  proc: PROC_TABLE,
  conntrack: `conntrack ${CONNTRACK_ARGS.join(" ")}`,
};

export interface SourceProbe {
  name: LiveSourceName;
  ok: boolean;
  /** Why it cannot be used, and how to fix that. */
  reason?: string;
}

function probeNetlink(): SourceProbe {
  const addon = netlinkAddon();
  if (!addon) {
    return { name: "netlink", ok: false, reason: "the native addon with ctnetlink support is not loaded (`npm run build:native`)" };
  }
  try {
    addon.netlinkCount();
    return { name: "netlink", ok: true };
  } catch (err) {
    return { name: "netlink", ok: false, reason: explainNetlinkError(err) };
  }
}

function probeProc(): SourceProbe {
  try {
    closeSync(openSync(PROC_TABLE, "r"));
    return { name: "proc", ok: true };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? `${PROC_TABLE} does not exist (CONFIG_NF_CONNTRACK_PROCFS is off, or nf_conntrack is not loaded)`
        : code === "EACCES" || code === "EPERM"
          ? `${PROC_TABLE} is not readable (run as root)`
          : `${PROC_TABLE}: ${(err as Error).message}`;
    return { name: "proc", ok: false, reason };
  }
}

function probeConntrack(): Promise<SourceProbe> {
  return new Promise((resolve) => {
    // -C prints the count over ctnetlink: the same permission the dump needs, without the dump.
    execFile("conntrack", ["-C"], { timeout: 5000, encoding: "utf8" }, (err, _stdout, stderr) => {
      if (!err) return resolve({ name: "conntrack", ok: true });
      const e = err as NodeJS.ErrnoException;
      if (e.code === "ENOENT") {
        return resolve({
          name: "conntrack",
          ok: false,
          reason: "conntrack is not installed (apt install conntrack / dnf install conntrack-tools)",
        });
      }
      const line = (stderr || e.message).trim().split("\n")[0] ?? "";
      const denied = /not permitted|permission denied/i.test(line);
      resolve({
        name: "conntrack",
        ok: false,
        reason: denied ? "conntrack -L needs root (CAP_NET_ADMIN)" : `conntrack -C failed: ${line}`,
      });
    });
  });
}

export async function probeSource(name: LiveSourceName): Promise<SourceProbe> {
  if (name === "netlink") return probeNetlink();
  if (name === "proc") return probeProc();
  return probeConntrack();
}

/** One line for a live table nobody can read. */
export function explainNoSource(probes: SourceProbe[]): string {
  const tried = probes.map((p) => `${p.name}: ${p.reason}`).join("; ");
  if (!existsSync("/proc/sys/net/netfilter/nf_conntrack_max")) {
    return `cannot read the live conntrack table: nf_conntrack is not loaded on this host (no /proc/sys/net/netfilter/nf_conntrack_max; \`modprobe nf_conntrack\`, or analyze a saved dump: \`ctscope analyze FILE\`) [${tried}]`;
  }
  if (process.getuid?.() !== 0) {
    return `cannot read the live conntrack table: it needs root (CAP_NET_ADMIN); run \`sudo ctscope analyze --live\` [${tried}]`;
  }
  return `cannot read the live conntrack table [${tried}]`;
}

/** The source to use: the requested one (InputError when it cannot work) or the first that works. */
export async function chooseSource(choice: SourceChoice): Promise<LiveSourceName> {
  if (choice !== "auto") {
    if (!SOURCE_ORDER.includes(choice)) throw new UsageError(`unknown source "${choice}"`);
    const p = await probeSource(choice);
    if (!p.ok) throw new InputError(`--source ${choice}: ${p.reason}`, choice === "proc" ? PROC_TABLE : undefined);
    return choice;
  }
  const probes: SourceProbe[] = [];
  for (const name of SOURCE_ORDER) {
    const p = await probeSource(name);
    if (p.ok) return name;
    probes.push(p);
  }
  throw new InputError(explainNoSource(probes));
}
