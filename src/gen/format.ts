/**
 * Prints an Entry the way each source prints it:
 *   proc      /proc/net/nf_conntrack (kernel ct_seq_show): l3 columns, IPv6 expanded, "mark=0 zone=0 use=2"
 *   legacy    /proc/net/ip_conntrack: no l3 columns, IPv4 only, "mark=0 use=2"
 *   conntrack `conntrack -L`: no l3 columns, IPv6 compressed, "mark=0 use=1" (zone only when non-zero)
 *   extended  `conntrack -L -o extended`: conntrack with the l3 columns
 *   xml       `conntrack -L -o xml`: one <flow> per line (ICMP flows have an empty <layer4>)
 * Field order follows the kernel and conntrack-tools: original tuple, its counters, [UNREPLIED],
 * reply tuple, its counters, [ASSURED], mark, zone, use.
 */
import { PROTO_NAMES, STATE_NAMES } from "../parse/layout.js";
import { ascii, type ByteWriter } from "./bytes.js";
import { type Entry, entryHasPorts, OD, OS, RD, RS } from "./entry.js";
import type { GenFormat } from "./model.js";

/** Longest line any format can produce (XML with IPv6 and counters is ~1 KB). */
export const MAX_LINE_BYTES = 2048;

const STATE_SP = STATE_NAMES.map((s) => ascii(`${s} `));
const pad8 = (s: string): string => s.padEnd(8, " ");

/** "ipv4     2 tcp      6 " or "tcp      6 ", by family and protocol. */
function prefixTable(withL3: boolean): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (const fam of [4, 6]) {
    for (const [num, name] of Object.entries(PROTO_NAMES)) {
      const l3 = withL3 ? `${pad8(fam === 4 ? "ipv4" : "ipv6")} ${fam === 4 ? 2 : 10} ` : "";
      m.set(fam * 256 + Number(num), ascii(`${l3}${pad8(name)} ${num} `));
    }
  }
  return m;
}

const PREFIX_L3 = prefixTable(true);
const PREFIX_PLAIN = prefixTable(false);

const SRC = ascii("src=");
const DST = ascii(" dst=");
const SPORT = ascii(" sport=");
const DPORT = ascii(" dport=");
const TYPE = ascii(" type=");
const CODE_ID = ascii(" code=0 id=");
const PACKETS = ascii(" packets=");
const BYTES = ascii(" bytes=");
const UNREPLIED = ascii(" [UNREPLIED] ");
const ASSURED = ascii(" [ASSURED]");
const TAIL_PROC = ascii(" mark=0 zone=0 use=2\n");
const TAIL_LEGACY = ascii(" mark=0 use=2\n");
const TAIL_TOOLS = ascii(" mark=0 use=1\n");

export const XML_HEADER = ascii('<?xml version="1.0" encoding="utf-8"?>\n<conntrack>\n');
export const XML_FOOTER = ascii("</conntrack>\n");

export class EntryFormatter {
  private readonly prefixes: Map<number, Uint8Array>;
  private readonly tail: Uint8Array;
  private readonly expanded: boolean;
  private readonly xml: boolean;

  constructor(
    readonly format: GenFormat,
    readonly acct: boolean,
  ) {
    this.prefixes = format === "proc" || format === "extended" ? PREFIX_L3 : PREFIX_PLAIN;
    this.tail = format === "proc" ? TAIL_PROC : format === "legacy" ? TAIL_LEGACY : TAIL_TOOLS;
    this.expanded = format === "proc";
    this.xml = format === "xml";
  }

  write(w: ByteWriter, e: Entry): void {
    if (this.xml) {
      writeXml(w, e, this.acct);
      return;
    }
    w.lit(this.prefixes.get(e.family * 256 + e.proto)!);
    w.dec(e.timeout);
    w.byte(32);
    if (e.state !== 0) w.lit(STATE_SP[e.state]!);
    this.tuple(w, e, OS, OD, e.sport1, e.dport1, e.type1);
    if (this.acct) counters(w, e.packets1, e.bytes1);
    if (e.unreplied) w.lit(UNREPLIED);
    else w.byte(32);
    this.tuple(w, e, RS, RD, e.sport2, e.dport2, e.type2);
    if (this.acct) counters(w, e.packets2, e.bytes2);
    if (e.assured) w.lit(ASSURED);
    w.lit(this.tail);
  }

  private tuple(w: ByteWriter, e: Entry, s: number, d: number, sport: number, dport: number, type: number): void {
    w.lit(SRC);
    this.addr(w, e, s);
    w.lit(DST);
    this.addr(w, e, d);
    if (entryHasPorts(e)) {
      w.lit(SPORT);
      w.dec(sport);
      w.lit(DPORT);
      w.dec(dport);
    } else {
      w.lit(TYPE);
      w.dec(type);
      w.lit(CODE_ID);
      w.dec(e.icmpId);
    }
  }

  private addr(w: ByteWriter, e: Entry, slot: number): void {
    if (e.family === 4) w.v4(e.v4[slot]!);
    else if (this.expanded) w.v6Expanded(e.v6, slot * 8);
    else w.v6Compressed(e.v6, slot * 8);
  }
}

function counters(w: ByteWriter, packets: number, bytes: number): void {
  w.lit(PACKETS);
  w.dec(packets);
  w.lit(BYTES);
  w.dec(bytes);
}

const X_FLOW_ORIG = ascii('<flow><meta direction="original">');
const X_META_REPLY = ascii('</meta><meta direction="reply">');
const X_META_INDEP = ascii('</meta><meta direction="independent">');
const X_L3: Record<number, Uint8Array> = {
  4: ascii('<layer3 protonum="2" protoname="ipv4"><src>'),
  6: ascii('<layer3 protonum="10" protoname="ipv6"><src>'),
};
const X_SRC_DST = ascii("</src><dst>");
const X_DST_L3 = ascii("</dst></layer3>");
const X_L4 = new Map(
  Object.entries(PROTO_NAMES).map(([num, name]) => [Number(num), ascii(`<layer4 protonum="${num}" protoname="${name}">`)]),
);
const X_SPORT = ascii("<sport>");
const X_SPORT_DPORT = ascii("</sport><dport>");
const X_DPORT_END = ascii("</dport>");
const X_L4_END = ascii("</layer4>");
const X_COUNTERS = ascii("<counters><packets>");
const X_PACKETS_BYTES = ascii("</packets><bytes>");
const X_COUNTERS_END = ascii("</bytes></counters>");
const X_STATE = ascii("<state>");
const X_STATE_END = ascii("</state>");
const X_TIMEOUT = ascii("<timeout>");
const X_TIMEOUT_MARK_USE_ID = ascii("</timeout><mark>0</mark><use>1</use><id>");
const X_ID_END = ascii("</id>");
const X_ASSURED = ascii("<assured/>");
const X_UNREPLIED = ascii("<unreplied/>");
const X_END = ascii("</meta></flow>\n");

function xmlTuple(
  w: ByteWriter,
  e: Entry,
  s: number,
  d: number,
  sport: number,
  dport: number,
  packets: number,
  bytes: number,
  acct: boolean,
) {
  w.lit(X_L3[e.family]!);
  xmlAddr(w, e, s);
  w.lit(X_SRC_DST);
  xmlAddr(w, e, d);
  w.lit(X_DST_L3);
  w.lit(X_L4.get(e.proto)!);
  if (entryHasPorts(e)) {
    w.lit(X_SPORT);
    w.dec(sport);
    w.lit(X_SPORT_DPORT);
    w.dec(dport);
    w.lit(X_DPORT_END);
  }
  w.lit(X_L4_END);
  if (acct) {
    w.lit(X_COUNTERS);
    w.dec(packets);
    w.lit(X_PACKETS_BYTES);
    w.dec(bytes);
    w.lit(X_COUNTERS_END);
  }
}

function xmlAddr(w: ByteWriter, e: Entry, slot: number): void {
  if (e.family === 4) w.v4(e.v4[slot]!);
  else w.v6Compressed(e.v6, slot * 8);
}

function writeXml(w: ByteWriter, e: Entry, acct: boolean): void {
  w.lit(X_FLOW_ORIG);
  xmlTuple(w, e, OS, OD, e.sport1, e.dport1, e.packets1, e.bytes1, acct);
  w.lit(X_META_REPLY);
  xmlTuple(w, e, RS, RD, e.sport2, e.dport2, e.packets2, e.bytes2, acct);
  w.lit(X_META_INDEP);
  if (e.state !== 0) {
    w.lit(X_STATE);
    w.lit(STATE_NAMES_BYTES[e.state]!);
    w.lit(X_STATE_END);
  }
  w.lit(X_TIMEOUT);
  w.dec(e.timeout);
  w.lit(X_TIMEOUT_MARK_USE_ID);
  w.dec(e.id);
  w.lit(X_ID_END);
  if (e.assured) w.lit(X_ASSURED);
  if (e.unreplied) w.lit(X_UNREPLIED);
  w.lit(X_END);
}

const STATE_NAMES_BYTES = STATE_NAMES.map(ascii);
