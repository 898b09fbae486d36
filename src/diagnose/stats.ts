/**
 * Parsing of conntrack's per-CPU statistics, in either form:
 *  - /proc/net/stat/nf_conntrack (or ip_conntrack): a header, then one row of hex per CPU. The
 *    header changed over kernel eras (`searched` became `clashres`, `delete_list` became
 *    `chainlength`, `search_restart` was added), so columns are read by name. `entries` is the
 *    global count repeated on every row: it is taken once, never summed.
 *  - `conntrack -S`: `cpu=N<TAB>found=.. invalid=.. insert=.. ...` lines (decimal, ctnetlink).
 */
import { InputError } from "../errors.js";
import type { ConntrackStats } from "./types.js";

/** Proc header names → the names `conntrack -S` uses for the same counter. */
const CANONICAL: Record<string, string> = {
  clashres: "clash_resolve",
  chainlength: "chaintoolong",
  icmp_error: "error",
};

function canonical(name: string): string {
  return CANONICAL[name] ?? name;
}

const HEX_RE = /^[0-9a-fA-F]{1,16}$/;
const KV_RE = /^([a-z_]+)=(\d{1,20})$/;

/** Parse /proc/net/stat/nf_conntrack or `conntrack -S` text. Throws InputError (without path) when it is neither. */
export function parseConntrackStats(text: string): ConntrackStats {
  const lines = text.split(/\r?\n/);
  let header: string[] | null = null;
  let format: ConntrackStats["format"] | null = null;
  const totals: Record<string, number> = {};
  const columns: string[] = [];
  let cpus = 0;
  let entries: number | null = null;
  const seenCpu = new Set<number>();

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(/\s+/);
    if (fields[0] === "entries") {
      if (format === "conntrack-S") throw new InputError(`line ${i + 1}: a /proc stat header inside conntrack -S output`);
      if (header) throw new InputError(`line ${i + 1}: a second /proc/net/stat/nf_conntrack header`);
      header = fields;
      format = "proc";
      for (const name of fields) if (name !== "entries") columns.push(name);
      continue;
    }
    if (fields[0]!.startsWith("cpu=")) {
      if (format === "proc") throw new InputError(`line ${i + 1}: a conntrack -S line inside /proc/net/stat/nf_conntrack`);
      format = "conntrack-S";
      const cpu = Number(fields[0]!.slice(4));
      if (!Number.isInteger(cpu) || cpu < 0) throw new InputError(`line ${i + 1}: bad cpu number: ${fields[0]}`);
      // The same CPU twice means two captures were concatenated: summing them would double count.
      if (seenCpu.has(cpu)) throw new InputError(`line ${i + 1}: cpu=${cpu} appears twice`);
      seenCpu.add(cpu);
      for (const f of fields.slice(1)) {
        const m = KV_RE.exec(f);
        if (!m) throw new InputError(`line ${i + 1}: not a conntrack -S counter: ${f.slice(0, 40)}`);
        const name = canonical(m[1]!);
        if (!(name in totals)) columns.push(name);
        totals[name] = (totals[name] ?? 0) + Number(m[2]);
      }
      cpus++;
      continue;
    }
    if (format === "proc" && header) {
      if (fields.length !== header.length) {
        throw new InputError(`line ${i + 1}: ${fields.length} columns under a header of ${header.length}`);
      }
      for (let c = 0; c < fields.length; c++) {
        const v = fields[c]!;
        if (!HEX_RE.test(v)) throw new InputError(`line ${i + 1}: not a hex counter: ${v.slice(0, 20)}`);
        const n = Number.parseInt(v, 16);
        const name = header[c]!;
        if (name === "entries") {
          // Global, repeated per CPU: keep the largest (rows are read at slightly different moments).
          entries = entries === null ? n : Math.max(entries, n);
        } else {
          const cn = canonical(name);
          totals[cn] = (totals[cn] ?? 0) + n;
        }
      }
      cpus++;
      continue;
    }
    throw new InputError(`line ${i + 1}: not /proc/net/stat/nf_conntrack or conntrack -S output: ${line.slice(0, 60)}`);
  }
  if (!format) throw new InputError("no /proc/net/stat/nf_conntrack header and no conntrack -S lines");
  // A header with no rows still tells the era; its counters are unknown, not zero.
  if (format === "proc" && cpus === 0) return { format, columns, cpus, entries: null, totals: {} };
  if (format === "proc") for (const c of columns) totals[canonical(c)] ??= 0;
  return { format, columns, cpus, entries, totals };
}
