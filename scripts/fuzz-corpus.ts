/**
 * Seed corpus and dictionary for native/fuzz/fuzz_tokenizer.cc: small files of valid lines of
 * every format (proc, plain, extended, events, XML), mutated lines, and every fixture and shared
 * sample. Usage: tsx scripts/fuzz-corpus.ts <corpus dir> <dictionary file> [seed]
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type LineFormat, LineGen } from "../test/helpers/random-lines.js";

const [dir, dictPath, seedArg] = process.argv.slice(2);
if (!dir || !dictPath) {
  console.error("usage: tsx scripts/fuzz-corpus.ts <corpus dir> <dictionary file> [seed]");
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const gen = new LineGen(Number(seedArg ?? 1));
let n = 0;
const put = (bytes: Uint8Array) => writeFileSync(join(dir, `seed-${String(n++).padStart(5, "0")}`), bytes);

const formats: LineFormat[] = ["proc", "plain", "extended", "event", "xml"];
for (const f of formats) {
  for (let i = 0; i < 60; i++) put(gen.join(Array.from({ length: 1 + gen.int(3) }, () => gen.valid(f))));
}
for (let i = 0; i < 200; i++) put(gen.join(gen.lines(1 + gen.int(4), 0.7), 0.3));
for (let i = 0; i < 10; i++) put(gen.join([gen.other(), gen.valid("xml"), gen.other()]));

const root = join(import.meta.dirname, "..");
const inputs = [join(root, "test", "fixtures"), join(root, "..", "shared", "samples")];
const walk = (p: string): void => {
  if (!existsSync(p)) return;
  if (statSync(p).isDirectory()) {
    for (const name of readdirSync(p)) walk(join(p, name));
  } else {
    const bytes = readFileSync(p);
    // libFuzzer's -max_len applies to seeds too: keep files small, split big ones.
    for (let o = 0; o < bytes.length; o += 4000) put(bytes.subarray(o, Math.min(bytes.length, o + 4000)));
  }
};
for (const p of inputs) walk(p);

// Tokens of the grammar, for mutations that keep lines near-valid.
const tokens = [
  "ipv4",
  "ipv6",
  "tcp",
  "udp",
  "udplite",
  "icmp",
  "icmpv6",
  "sctp",
  "gre",
  "dccp",
  "unknown",
  " 2 ",
  " 10 ",
  " 6 ",
  " 17 ",
  "src=",
  "dst=",
  "sport=",
  "dport=",
  "packets=",
  "bytes=",
  "type=",
  "code=",
  "id=",
  "srckey=0x",
  "dstkey=0x",
  "mark=0",
  "zone=",
  "use=1",
  "[UNREPLIED]",
  "[ASSURED]",
  "[OFFLOAD]",
  "[HW_OFFLOAD]",
  "[NEW]",
  "[UPDATE]",
  "[DESTROY]",
  "ESTABLISHED",
  "SYN_SENT",
  "TIME_WAIT",
  "COOKIE_WAIT",
  "PARTOPEN",
  "::",
  "::ffff:",
  "4294967295",
  "99999999999999999999",
  "<flow>",
  '<flow type="destroy">',
  "</flow>",
  '<meta direction="original">',
  '<meta direction="reply">',
  '<meta direction="independent">',
  "</meta>",
  '<layer3 protonum="2" protoname="ipv4">',
  '<layer3 protonum="10">',
  "</layer3>",
  '<layer4 protonum="6" protoname="tcp">',
  "</layer4>",
  "<src>",
  "</src>",
  "<dst>",
  "</dst>",
  "<sport>",
  "<dport>",
  "<state>",
  "<timeout>",
  "<unreplied/>",
  "<assured/>",
  '<?xml version="1.0" encoding="utf-8"?>',
  "<conntrack>",
  "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.",
  "\r\n",
  "\t",
];
// libFuzzer dictionary syntax: "..." with \\, \" and \xNN escapes only.
const dictEntry = (t: string) =>
  `"${[...t].map((c) => (c >= " " && c <= "~" && c !== "\\" && c !== '"' ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)).join("")}"`;
writeFileSync(dictPath, `${tokens.map(dictEntry).join("\n")}\n`);
console.log(`fuzz corpus: ${n} files in ${dir}`);
