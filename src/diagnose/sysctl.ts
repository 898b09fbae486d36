/**
 * Parsing of sysctl dumps and extraction of the conntrack settings from them.
 * Accepted line forms (one file may mix them):
 *   `net.netfilter.nf_conntrack_max = 262144`  (sysctl -a, sysctl net.netfilter)
 *   `net.netfilter.nf_conntrack_max=262144`    (KEY=VALUE, sysctl -n style configs)
 *   `net/netfilter/nf_conntrack_max = 262144`  (slash keys)
 *   `/proc/sys/net/netfilter/nf_conntrack_max:262144` (grep . /proc/sys/net/netfilter/*)
 * Comments (#, ;), blank lines and sysctl's own error lines are skipped.
 */
import { InputError } from "../errors.js";

/** Dotted form of a sysctl key given dotted, with slashes, or as a /proc/sys or /sys path. */
export function normalizeSysctlKey(raw: string): string {
  let key = raw.trim().replace(/^\/proc\/sys\//, "");
  if (key.startsWith("/")) key = key.slice(1);
  // In the slash form a dot is part of a name (eth0.100); in the dotted form it becomes a slash.
  if (key.includes("/"))
    key = key
      .split("/")
      .map((p) => p.replace(/\./g, "/"))
      .join(".");
  return key;
}

const KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_./:@-]*$/;

/** Parse a sysctl dump into dotted key → value text. Throws InputError on a line that is none of the forms. */
export function parseSysctl(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    // sysctl -a prints errors such as "sysctl: permission denied on key 'x'" when run unprivileged.
    if (/^sysctl: /.test(line)) continue;
    let key: string;
    let value: string;
    const eq = line.indexOf("=");
    if (eq > 0) {
      key = line.slice(0, eq).trim();
      value = line.slice(eq + 1).trim();
    } else if (line.startsWith("/") && line.includes(":")) {
      const colon = line.indexOf(":");
      key = line.slice(0, colon);
      value = line.slice(colon + 1).trim();
    } else {
      throw new InputError(`line ${i + 1}: not a sysctl line (expected KEY = VALUE): ${line.slice(0, 80)}`);
    }
    if (key.startsWith("-")) key = key.slice(1); // sysctl.conf "-key = value" (ignore errors)
    if (!KEY_RE.test(key.replace(/^\//, ""))) throw new InputError(`line ${i + 1}: not a sysctl key: ${key.slice(0, 80)}`);
    out[normalizeSysctlKey(key)] = value;
  }
  return out;
}

/** Where conntrack settings live, newest first: net.netfilter (2.6.27+), net (init netns copy), net.ipv4.netfilter (ip_conntrack). */
const CT_PREFIXES = ["net.netfilter.nf_conntrack_", "net.nf_conntrack_", "net.ipv4.netfilter.ip_conntrack_"];

/** The value of a conntrack setting by short name (max, count, tcp_timeout_established), from any era's key. */
export function conntrackSetting(sysctl: Record<string, string>, name: string): string | null {
  for (const p of CT_PREFIXES) {
    const v = sysctl[p + name];
    if (v !== undefined) return v;
  }
  return null;
}

/** A non-negative whole number, or null when absent or not a number. */
export function intValue(v: string | null | undefined): number | null {
  if (v === null || v === undefined) return null;
  const t = v.trim();
  if (!/^\d{1,15}$/.test(t)) return null;
  return Number(t);
}

/** Every conntrack timeout setting (any era), keyed by short name (tcp_timeout_established). */
export function conntrackTimeouts(sysctl: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {};
  // Oldest prefix first so newer keys win.
  for (const p of [...CT_PREFIXES].reverse()) {
    for (const [k, v] of Object.entries(sysctl)) {
      if (!k.startsWith(p)) continue;
      const name = k.slice(p.length);
      // frag6_timeout is IPv6 reassembly, not a conntrack entry lifetime.
      if (!name.includes("timeout") || name.startsWith("frag6")) continue;
      const n = intValue(v);
      if (n !== null) out[name] = n;
    }
  }
  return out;
}

/** hashsize when the dump carries the module parameter (grep . /sys/module/nf_conntrack/parameters/hashsize). */
export function hashsizeFromSysctl(sysctl: Record<string, string>): number | null {
  for (const [k, v] of Object.entries(sysctl)) {
    if (k.endsWith("nf_conntrack.parameters.hashsize")) return intValue(v);
  }
  return null;
}
