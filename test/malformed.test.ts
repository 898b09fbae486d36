/**
 * Malformed lines: every kind is counted once, never stops the scan, and the report shows the first
 * ones with 1-based line numbers and control characters escaped. Values at their limits stay valid.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MAX_MALFORMED_SHOWN } from "../src/engine/merge.js";
import { MALFORMED_SAMPLE_BYTES } from "../src/parse/layout.js";
import { escapeControl } from "../src/report/address.js";
import { renderHuman } from "../src/report/human.js";
import { renderJson } from "../src/report/serialize.js";
import { analyzeFiles, analyzeText, counts, fixture, hist, top } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";

const KINDS_FILE = fixture("malformed", "kinds.txt");
const MIXED = fixture("malformed", "mixed.txt");
const BOUNDARIES = fixture("malformed", "boundaries.txt");

/** One name per line of kinds.txt, in order. */
const KIND_NAMES = [
  "truncated in a key",
  "truncated in an address",
  "missing reply tuple",
  "reply tuple without ports",
  "octet above 255",
  "three octets",
  "hostname instead of address",
  "port 70000",
  "port with sign",
  "unknown protocol name",
  "name/number mismatch tcp 17",
  "unknown with a known number",
  "protocol number 256",
  "missing protocol number",
  "state on udp",
  "unknown state",
  "lowercase state",
  "NUL byte in an address",
  "only NUL bytes",
  "ANSI escape before the line",
  "bell inside the protocol word",
  "vertical tab as a separator",
  "three tuples",
  "dst= before src=",
  "duplicate sport",
  "21-digit counter",
  "timeout above 2^32-1",
  "negative timeout",
  "garbage words",
  "unterminated flag",
  "flag glued to the next word",
  "empty value",
  "bad event word",
  "timestamp without fraction",
  "l3 number mismatch",
  "ICMP id above 65535",
  "ICMP without code",
  "truncated XML flow",
  "XML flow without reply",
  "unknown XML element",
  "pretty-printed XML fragment",
  "truncated DESTROY event",
  "shell prompt",
];

const KIND_LINES = readFileSync(KINDS_FILE, "latin1").split("\n").slice(0, -1);
const VALID =
  "tcp      6 100 ESTABLISHED src=10.9.0.2 dst=10.9.0.1 sport=40000 dport=443 src=10.9.0.1 dst=10.9.0.2 sport=443 dport=40000 [ASSURED] mark=0 use=1";

/** mixed.txt: which lines (1-based) are malformed, and their raw text (CR removed). */
const MIXED_LINES = readFileSync(MIXED, "latin1").split("\n").slice(0, -1);
const MIXED_BAD = [2, 4, 6, 8, 9, 10, 12, 13, 14, 15, 16, 17];

describe.each(BACKENDS)("malformed lines (%s backend)", (backend) => {
  it("the kinds fixture has one line per named kind", () => {
    expect(KIND_LINES).toHaveLength(KIND_NAMES.length);
  });

  it.each(KIND_NAMES.map((name, i) => [name, i] as const))("%s: counted once, neighbours still parsed", async (_name, i) => {
    const bad = KIND_LINES[i]!;
    const s = await analyzeText(`${VALID}\n${bad}\n${VALID}\n`, backend);
    expect(counts(s)).toEqual({
      lines: 3,
      entries: 2,
      malformed: 1,
      blank: 0,
      ignored: 0,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 0,
    });
    expect(s.malformed_samples).toEqual([{ source: s.sources[0], line: 2, text: bad.slice(0, MALFORMED_SAMPLE_BYTES) }]);
    expect(top(s, "service")).toEqual({ "tcp 10.9.0.1:443": 2 });
  });

  it("a file of nothing but malformed lines is not an error", async () => {
    const s = await analyzeFiles([KINDS_FILE], backend);
    expect(counts(s)).toEqual({
      lines: KIND_NAMES.length,
      entries: 0,
      malformed: KIND_NAMES.length,
      blank: 0,
      ignored: 0,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 0,
    });
    expect(s.malformed_samples.map((m) => m.line)).toEqual(Array.from({ length: MAX_MALFORMED_SHOWN }, (_, i) => i + 1));
    expect(renderHuman(s, { color: false })).toContain("No conntrack entries to summarise.");
  });

  it("mixed valid and malformed lines: exact counts and the first samples in order", async () => {
    const s = await analyzeFiles([MIXED], backend);
    expect(counts(s)).toEqual({
      lines: 19,
      entries: 5,
      malformed: 12,
      blank: 1,
      ignored: 1,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 0,
    });
    const expected = MIXED_BAD.slice(0, MAX_MALFORMED_SHOWN).map((line) => {
      const raw = MIXED_LINES[line - 1]!.replace(/\r$/, "");
      return { source: MIXED, line, text: raw.slice(0, MALFORMED_SAMPLE_BYTES) };
    });
    expect(s.malformed_samples).toEqual(expected);
    // A long line is cut; a CRLF line loses its CR.
    expect(s.malformed_samples.find((m) => m.line === 10)!.text).toBe("x".repeat(MALFORMED_SAMPLE_BYTES));
    expect(s.malformed_samples.find((m) => m.line === 8)!.text).toBe("tcp      17 bad line");
  });

  it("the human report lists samples with line numbers and escaped control characters", async () => {
    const s = await analyzeFiles([MIXED], backend);
    const out = renderHuman(s, { color: false });
    expect(out).toContain("Input: 19 lines, 5 entries, 12 malformed, 1 blank, 1 ignored (trailers, XML wrapper)");
    expect(out).toContain(`Malformed lines (12; first ${s.malformed_samples.length})`);
    expect(out).toContain(`  ${MIXED}:2: this is not a conntrack line\n`);
    expect(out).toContain(`  ${MIXED}:4: \\x1b[31mtcp      6 100 ESTABLISHED src=10.9.0.4`);
    expect(out).toContain(`  ${MIXED}:6: \\x00\\x00 nul\n`);
    expect(out).toContain(`  ${MIXED}:8: tcp      17 bad line\n`);
    expect(out).toContain(`  ${MIXED}:9: caf\\xe9 \\xff latin1\n`);
    // Shown text is cut at 160 columns with an ellipsis.
    expect(out).toContain(`  ${MIXED}:10: ${"x".repeat(159)}…\n`);
    // No raw control byte reaches the terminal (tabs in tables aside, there are none here).
    expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(escapeControl("a\tb\r\n\\")).toBe("a\\tb\\r\\n\\\\");
  });

  it("JSON keeps the raw sample text (escaped by JSON itself) with 1-based line numbers", async () => {
    const s = await analyzeFiles([MIXED], backend);
    const json = renderJson(s);
    expect(json).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    const doc = JSON.parse(json) as { malformed: number; malformed_samples: Array<{ source: string; line: number; text: string }> };
    expect(doc.malformed).toBe(12);
    expect(doc.malformed_samples[0]).toEqual({ source: MIXED, line: 2, text: "this is not a conntrack line" });
    expect(doc.malformed_samples[1]!.text.startsWith("\x1b[31mtcp")).toBe(true);
    expect(doc.malformed_samples[2]).toEqual({ source: MIXED, line: 6, text: "\x00\x00 nul" });
    expect(doc.malformed_samples[4]).toEqual({ source: MIXED, line: 9, text: "caf\xe9 \xff latin1" });
  });

  it("values at their limits are valid: timeout 2^32-1, 20-digit counters, ports 0 and 65535, tabs, trailing blanks", async () => {
    const s = await analyzeFiles([BOUNDARIES], backend);
    expect(counts(s)).toEqual({
      lines: 9,
      entries: 9,
      malformed: 0,
      blank: 0,
      ignored: 0,
      destroyed: 0,
      filtered: 0,
      events: 0,
      accounted: 1,
    });
    expect(hist(s.timeouts)).toEqual({ 0: 1, 10: 1, 60: 4, 300: 1, 345600: 1, 432001: 1 });
    expect(top(s, "service")).toEqual({
      "tcp 10.9.1.1:443": 5,
      "tcp 10.9.1.1:0": 1,
      "icmp 10.9.1.1": 1,
      "gre 10.9.1.1": 1,
      "unknown(255) 10.9.1.1": 1,
    });
    const web = s.classes.find((c) => c.dport === 443)!;
    expect(web.maxTimeout).toBe(4294967295);
    // 18446744073709551615 (u64 max) is 2^64 as a double; two of them sum to 2^65.
    expect(web.packets).toBe(2 ** 65);
    expect(web.bytes).toBe(2 ** 65);
    expect(s.classes.find((c) => c.dport === 0)!.maxTimeout).toBe(0);
    expect(s.classes.find((c) => c.proto === 255)!.protoName).toBe("unknown(255)");
  });
});
