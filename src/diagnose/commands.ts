/**
 * Builders of the shell commands printed as recommendations. Every value inserted into a command
 * is re-validated and re-formatted here (addresses through node:net and ipaddr.js, ports and
 * counts as numeric ranges, names against fixed lists): a builder given anything else returns
 * null and the command is left out. ctscope never runs these commands.
 */
import { isIP } from "node:net";
import ipaddr, { type IPv6 } from "../report/ipaddr.js";

export interface SafeCidr {
  /** Canonical network text: 203.0.113.0/24, 2001:db8::/64, or a host as 203.0.113.7/32. */
  cidr: string;
  /** The address alone when the prefix is a single host, else the cidr. */
  text: string;
  family: 4 | 6;
}

/** A canonical IP address (IPv4 dotted, IPv6 RFC 5952), or null. */
export function safeAddress(text: string): { addr: string; family: 4 | 6 } | null {
  const fam = isIP(text);
  if (fam !== 4 && fam !== 6) return null;
  const a = ipaddr.parse(text);
  return { addr: a.kind() === "ipv6" ? (a as IPv6).toRFC5952String() : a.toString(), family: fam };
}

/** A canonical network from "addr/len" or a bare address (a host prefix), masked to its network; null when invalid. */
export function safeCidr(text: string): SafeCidr | null {
  const slash = text.indexOf("/");
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const a = safeAddress(addrText);
  if (!a) return null;
  const full = a.family === 4 ? 32 : 128;
  let len = full;
  if (slash >= 0) {
    const l = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(l)) return null;
    len = Number(l);
    if (len > full) return null;
  }
  const bytes = ipaddr.parse(a.addr).toByteArray();
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  const net = ipaddr.fromByteArray(bytes);
  const netText = net.kind() === "ipv6" ? (net as IPv6).toRFC5952String() : net.toString();
  const cidr = `${netText}/${len}`;
  return { cidr, text: len === full ? netText : cidr, family: a.family };
}

/** A port 1–65535, or null. */
export function safePort(n: unknown): number | null {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : null;
}

/** A positive whole number that fits a kernel unsigned int, or null. */
export function safeCount(n: unknown): number | null {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 1 && n <= 4294967295 ? n : null;
}

const PORT_PROTOS = new Set(["tcp", "udp", "udplite", "sctp", "dccp"]);

/** A protocol name iptables and nft both accept with ports, or null. */
export function safePortProto(p: string): string | null {
  return PORT_PROTOS.has(p) ? p : null;
}

const SYSCTL_NAME_RE = /^nf_conntrack_[a-z0-9_]{1,60}$/;

/** The persistent sysctl file every recommendation appends to. */
export const SYSCTL_FILE = "/etc/sysctl.d/90-conntrack.conf";
export const MODPROBE_FILE = "/etc/modprobe.d/90-conntrack-hashsize.conf";

/** `sysctl -w` for now plus the line that makes it persistent. */
export function sysctlCommands(name: string, value: number): string[] | null {
  const v = safeCount(value);
  if (!SYSCTL_NAME_RE.test(name) || v === null) return null;
  return [`sysctl -w net.netfilter.${name}=${v}`, `echo 'net.netfilter.${name} = ${v}' >> ${SYSCTL_FILE}`];
}

/** Resize the hash table now (module parameter) and at the next module load. */
export function hashsizeCommands(size: number): string[] | null {
  const v = safeCount(size);
  if (v === null) return null;
  return [`echo ${v} > /sys/module/nf_conntrack/parameters/hashsize`, `echo 'options nf_conntrack hashsize=${v}' > ${MODPROBE_FILE}`];
}

const NFT_TABLE = "inet ctscope";
type NftChain = "raw_prerouting" | "raw_output" | "input" | "output";
const NFT_CHAINS: Record<NftChain, string> = {
  raw_prerouting: "type filter hook prerouting priority raw; policy accept;",
  raw_output: "type filter hook output priority raw; policy accept;",
  input: "type filter hook input priority filter; policy accept;",
  output: "type filter hook output priority filter; policy accept;",
};

/** The nft table and chain the rules go into (both idempotent: `add` does not fail when they exist). */
export function nftSetup(chain: NftChain): string[] {
  return [`nft add table ${NFT_TABLE}`, `nft 'add chain ${NFT_TABLE} ${chain} { ${NFT_CHAINS[chain]} }'`];
}

function ipt(family: 4 | 6): string {
  return family === 4 ? "iptables" : "ip6tables";
}

function nftAddr(family: 4 | 6): string {
  return family === 4 ? "ip" : "ip6";
}

/** Drop everything from a source or prefix before conntrack sees it (raw table): iptables and nft. */
export function dropSourceCommands(source: string): string[] | null {
  const c = safeCidr(source);
  if (!c) return null;
  return [
    `${ipt(c.family)} -t raw -I PREROUTING -s ${c.text} -j DROP`,
    ...nftSetup("raw_prerouting"),
    `nft add rule ${NFT_TABLE} raw_prerouting ${nftAddr(c.family)} saddr ${c.text} drop`,
  ];
}

/**
 * Limit new connections from a source or prefix instead of dropping it: iptables hashlimit (the
 * whole prefix shares one bucket) and an nft rule limit. Refused packets are never confirmed, so
 * they take no table slot.
 */
export function limitSourceCommands(source: string, perSecond: number): string[] | null {
  const c = safeCidr(source);
  const rate = safeCount(perSecond);
  if (!c || rate === null) return null;
  const len = Number(c.cidr.slice(c.cidr.indexOf("/") + 1));
  // One hashlimit table per subject (rules sharing a name must share options): a short stable hash.
  let h = 0;
  for (const ch of c.cidr) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  const name = `ctscope-${h.toString(16).padStart(8, "0").slice(0, 6)}`;
  const burst = rate * 2;
  return [
    `${ipt(c.family)} -I INPUT -s ${c.text} -m conntrack --ctstate NEW -m hashlimit --hashlimit-mode srcip --hashlimit-srcmask ${len} --hashlimit-above ${rate}/second --hashlimit-burst ${burst} --hashlimit-name ${name} -j DROP`,
    ...nftSetup("input"),
    `nft add rule ${NFT_TABLE} input ${nftAddr(c.family)} saddr ${c.text} ct state new limit rate over ${rate}/second burst ${burst} packets drop`,
  ];
}

/**
 * NOTRACK for a stateless service in both directions. server: the service runs here (packets in
 * to the port, replies out from it); client: this host queries remote servers on that port.
 */
export function notrackCommands(proto: string, port: number, role: "server" | "client", families: Array<4 | 6>): string[] | null {
  const p = safePortProto(proto);
  const n = safePort(port);
  if (!p || n === null || families.length === 0) return null;
  const inDir = role === "server" ? "--dport" : "--sport";
  const outDir = role === "server" ? "--sport" : "--dport";
  const nftIn = role === "server" ? "dport" : "sport";
  const nftOut = role === "server" ? "sport" : "dport";
  const out: string[] = [];
  for (const f of [...new Set(families)].sort()) {
    out.push(`${ipt(f)} -t raw -A PREROUTING -p ${p} ${inDir} ${n} -j NOTRACK`);
    out.push(`${ipt(f)} -t raw -A OUTPUT -p ${p} ${outDir} ${n} -j NOTRACK`);
  }
  for (const f of [...new Set(families)].sort()) {
    out.push(`${ipt(f)} -I INPUT -p ${p} ${inDir} ${n} -m conntrack --ctstate UNTRACKED -j ACCEPT`);
    out.push(`${ipt(f)} -I OUTPUT -p ${p} ${outDir} ${n} -m conntrack --ctstate UNTRACKED -j ACCEPT`);
  }
  out.push(...nftSetup("raw_prerouting"), `nft add rule ${NFT_TABLE} raw_prerouting ${p} ${nftIn} ${n} notrack`);
  out.push(...nftSetup("raw_output").slice(1), `nft add rule ${NFT_TABLE} raw_output ${p} ${nftOut} ${n} notrack`);
  return out;
}

/**
 * Cap the connections to or from one remote on one service: iptables connlimit and nft ct count.
 * outgoing: this host connects to remote:port; incoming: remote connects to our port.
 */
export function connlimitCommands(
  remote: string,
  proto: string,
  port: number,
  direction: "incoming" | "outgoing",
  limit: number,
): string[] | null {
  const a = safeAddress(remote);
  const p = safePortProto(proto);
  const n = safePort(port);
  const l = safeCount(limit);
  if (!a || !p || n === null || l === null) return null;
  const mask = a.family === 4 ? 32 : 128;
  const reject = p === "tcp" ? " --reject-with tcp-reset" : "";
  const nftReject = p === "tcp" ? "reject with tcp reset" : "reject";
  const fam = nftAddr(a.family);
  if (direction === "outgoing") {
    return [
      `${ipt(a.family)} -I OUTPUT -p ${p} -d ${a.addr} --dport ${n} -m connlimit --connlimit-above ${l} --connlimit-daddr --connlimit-mask ${mask} -j REJECT${reject}`,
      ...nftSetup("output"),
      `nft add rule ${NFT_TABLE} output ${fam} daddr ${a.addr} ${p} dport ${n} ct count over ${l} ${nftReject}`,
    ];
  }
  return [
    `${ipt(a.family)} -I INPUT -p ${p} -s ${a.addr} --dport ${n} -m connlimit --connlimit-above ${l} --connlimit-saddr --connlimit-mask ${mask} -j REJECT${reject}`,
    ...nftSetup("input"),
    `nft add rule ${NFT_TABLE} input ${fam} saddr ${a.addr} ${p} dport ${n} ct count over ${l} ${nftReject}`,
  ];
}

/** Read-only look at the entries of one remote (and service), to confirm before changing anything. */
export function inspectCommand(
  remote: string,
  proto: string | null,
  port: number | null,
  direction: "incoming" | "outgoing",
): string | null {
  const a = safeAddress(remote);
  if (!a) return null;
  const side = direction === "outgoing" ? "--dst" : "--src";
  let cmd = `conntrack -L -f ${a.family === 4 ? "ipv4" : "ipv6"} ${side} ${a.addr}`;
  if (proto !== null) {
    const p = safePortProto(proto);
    if (!p) return null;
    cmd += ` -p ${p}`;
    if (port !== null) {
      const n = safePort(port);
      if (n === null) return null;
      cmd += ` --dport ${n}`;
    }
  }
  return `${cmd} | head -n 20`;
}

/** Delete the ESTABLISHED entries of one remote/service (conntrack picks live ones up again on their next packet while nf_conntrack_tcp_loose=1). */
export function deleteEstablishedCommand(remote: string, port: number | null, direction: "incoming" | "outgoing"): string | null {
  const a = safeAddress(remote);
  if (!a) return null;
  const side = direction === "outgoing" ? "--dst" : "--src";
  let cmd = `conntrack -D -f ${a.family === 4 ? "ipv4" : "ipv6"} -p tcp ${side} ${a.addr}`;
  if (port !== null) {
    const n = safePort(port);
    if (n === null) return null;
    cmd += ` --dport ${n}`;
  }
  return `${cmd} --state ESTABLISHED`;
}

/** SYNPROXY in front of a local TCP port flooded with half-open connections (iptables; the nft form needs a synproxy object per port). */
export function synproxyCommands(port: number, families: Array<4 | 6>): string[] | null {
  const n = safePort(port);
  if (n === null || families.length === 0) return null;
  const out: string[] = [];
  for (const f of [...new Set(families)].sort()) {
    const i = ipt(f);
    out.push(`${i} -t raw -I PREROUTING -p tcp --dport ${n} --syn -j CT --notrack`);
    out.push(
      `${i} -I INPUT -p tcp --dport ${n} -m conntrack --ctstate INVALID,UNTRACKED -j SYNPROXY --sack-perm --timestamp --wscale 7 --mss ${f === 4 ? 1460 : 1440}`,
    );
    out.push(`${i} -I INPUT 2 -p tcp --dport ${n} -m conntrack --ctstate INVALID -j DROP`);
  }
  out.push("sysctl -w net.netfilter.nf_conntrack_tcp_loose=0", `echo 'net.netfilter.nf_conntrack_tcp_loose = 0' >> ${SYSCTL_FILE}`);
  return out;
}
