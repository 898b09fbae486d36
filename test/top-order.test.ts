/**
 * Top tables: count descending, ties in address order (numeric, IPv4 before IPv6), whatever the
 * table size. A flood makes hundreds of thousands of keys tie at count 1; the cut must still pick
 * the first addresses, both for the default --top and for a --top larger than the selection keeps
 * in order.
 */
import { describe, expect, it } from "vitest";
import { analyzeText } from "./helpers/analyze-text.js";
import { BACKENDS } from "./helpers/backends.js";

function udp(src: string, dst: string, sport: number): string {
  return `ipv4     2 udp      17 29 src=${src} dst=${dst} sport=${sport} dport=53 [UNREPLIED] src=${dst} dst=${src} sport=53 dport=${sport} mark=0 zone=0 use=2`;
}

/** 600 sources with one entry each, three with more; addresses whose text order is not numeric order. */
function table(): { text: string; bySrc: Map<string, number> } {
  const lines: string[] = [];
  const bySrc = new Map<string, number>();
  const add = (src: string, n: number) => {
    for (let i = 0; i < n; i++) lines.push(udp(src, "192.0.2.53", 1024 + lines.length));
    bySrc.set(src, (bySrc.get(src) ?? 0) + n);
  };
  // Interleaved so that first-seen order differs from text order.
  for (let i = 599; i >= 0; i--) add(`10.${i % 7}.${(i * 37) % 256}.${(i * 11) % 250}`, 1);
  add("10.9.9.9", 3);
  add("10.200.0.1", 2);
  add("10.100.0.1", 2);
  return { text: lines.join("\n"), bySrc };
}

/** 10.x.y.z as one number: numeric address order. */
const numeric = (a: string): number => a.split(".").reduce((v, o) => v * 256 + Number(o), 0);

function expected(bySrc: Map<string, number>, n: number): Array<[string, number]> {
  return [...bySrc].sort((a, b) => b[1] - a[1] || numeric(a[0]) - numeric(b[0])).slice(0, n);
}

describe.each(BACKENDS)("top-table order (%s backend)", (backend) => {
  const { text, bySrc } = table();

  it.each([1, 3, 10, 257, 400])("--top %i: busiest first, ties in numeric address order", async (top) => {
    const s = await analyzeText(text, backend, { top });
    expect(bySrc.size).toBeGreaterThan(590);
    expect(s.top.src.map((r) => [r.key, r.count])).toEqual(expected(bySrc, top));
    expect(s.distinct.src).toBe(bySrc.size);
  });

  it("numeric order is not text order here (the test would not notice a text sort)", () => {
    const byText = [...bySrc].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    expect(byText.slice(0, 10)).not.toEqual(expected(bySrc, 10));
  });
});
