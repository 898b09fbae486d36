/**
 * The view as a pure function: every size from tiny to wide stays inside the terminal, colour
 * never splits an escape sequence, and the pieces (cut, sparkline, durations, change, sort) render
 * as specified.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ViewDoc } from "../src/live/document.js";
import { ScanTracker } from "../src/live/session.js";
import { duration, fitLine, renderView, type SORT_KEYS, scanCounts, sparkline, type ViewState } from "../src/live/view.js";
import { LIVE_FIXTURES } from "./fixtures/live/cli.js";

const DOCS = readFileSync(join(LIVE_FIXTURES, "replay.ndjson"), "utf8")
  .trim()
  .split("\n")
  .map((l) => JSON.parse(l) as ViewDoc);

const ANSI = /\x1b\[[0-9;]*m/g;

function state(doc: ViewDoc | null, over: Partial<ViewState> = {}): ViewState {
  return { doc, previous: null, fillHistory: [0.5, 1], dropHistory: [0, 10], sort: "count", paused: false, ...over };
}

describe("renderView", () => {
  it("stays inside every terminal size, with and without colour", () => {
    for (const color of [false, true]) {
      for (const cols of [20, 33, 60, 80, 109, 110, 140, 220]) {
        for (const rows of [1, 2, 5, 9, 14, 24, 40, 70]) {
          for (const doc of [null, DOCS[0]!, DOCS[3]!]) {
            const lines = renderView(state(doc, { paused: rows % 2 === 0 }), { cols, rows, color, keys: true });
            expect(lines.length).toBeLessThanOrEqual(rows);
            for (const l of lines) {
              const visible = l.replace(ANSI, "");
              expect(visible.length, `${cols}x${rows}: ${visible}`).toBeLessThanOrEqual(cols);
              expect(visible).not.toContain("\x1b");
            }
          }
        }
      }
    }
  });

  it("the first lines before any scan", () => {
    const lines = renderView(state(null, { status: "scanning the table…" }), { cols: 100, rows: 10, color: false, keys: false });
    expect(lines).toEqual([
      " ctscope live  · sort: count",
      "Table    count or max unknown",
      "Growth   -   full in -   drops -/s   early_drop -/s   insert_failed -/s",
      "Fill     ▅█                                      Drops/s ▁█",
      "Scan     scanning the table…",
    ]);
  });

  it("change columns appear once a second scan is known, and s sorts by them", () => {
    const tracker = new ScanTracker();
    for (const d of DOCS) tracker.observe(d);
    expect(tracker.previous?.get("remote")?.get("198.51.100.7")).toBe(30000);
    const rows = (sort: (typeof SORT_KEYS)[number]) =>
      renderView(state(DOCS[3]!, { previous: tracker.previous, sort }), { cols: 80, rows: 60, color: false, keys: false })
        .filter((l) => /^\d/.test(l))
        .slice(0, 3)
        .map((l) => l.replace(/\s+/g, " ").trim());
    expect(rows("count")).toEqual(["198.51.100.7 41,000 +11,000 41,000", "203.0.113.9 11,000 -1,000", "192.0.2.77 9,000 new"]);
    expect(rows("change")).toEqual(["198.51.100.7 41,000 +11,000 41,000", "192.0.2.77 9,000 new", "203.0.113.9 11,000 -1,000"]);
    expect(rows("unreplied")).toEqual(["198.51.100.7 41,000 +11,000 41,000", "203.0.113.9 11,000 -1,000", "192.0.2.77 9,000 new"]);
    // Without a previous scan the column stays empty.
    const first = renderView(state(DOCS[0]!), { cols: 80, rows: 60, color: false, keys: false });
    expect(first.find((l) => l.startsWith("198.51.100.7"))!.replace(/\s+/g, " ")).toBe("198.51.100.7 30,000 30,000");
  });

  it("the tracker keeps the counts of the scan before the current one only", () => {
    const t = new ScanTracker();
    t.observe(DOCS[0]!);
    t.observe(DOCS[1]!);
    expect(t.previous).toBeNull();
    t.observe(DOCS[2]!);
    expect(t.previous).toEqual(scanCounts(DOCS[1]!));
    t.observe(DOCS[3]!);
    expect(t.previous).toEqual(scanCounts(DOCS[1]!));
  });

  it("a diagnosis that failed says so instead of anomalies", () => {
    const lines = renderView(state({ ...DOCS[0]!, diagnosis_error: "boom" }), { cols: 100, rows: 30, color: false, keys: false });
    expect(lines).toContain("Diagnosis unavailable: boom");
    expect(lines.some((l) => l.startsWith("Anomalies"))).toBe(false);
  });
});

describe("pieces", () => {
  it("cuts segments with an ellipsis and styles after cutting", () => {
    const red = (s: string) => `\x1b[31m${s}\x1b[39m`;
    expect(fitLine([{ text: "abc" }, { text: "defgh", style: red }], 6)).toBe("abc\x1b[31mde…\x1b[39m");
    expect(fitLine([{ text: "abcdef" }], 6)).toBe("abcdef");
    expect(fitLine([{ text: "abc" }, { text: "def" }], 1)).toBe("a");
  });

  it("sparklines scale to the maximum, or to the window's", () => {
    expect(sparkline([0, 0.5, 1], 3, 1)).toBe("▁▅█");
    expect(sparkline([0, 5, 10, 20], 3)).toBe("▃▅█");
    expect(sparkline([0, 0], 5)).toBe("▁▁");
    expect(sparkline([1, 2], 0)).toBe("");
  });

  it("durations", () => {
    expect([59, 72, 3661, 90061].map(duration)).toEqual(["59s", "1m12s", "1h01m", "1d01h"]);
    expect(duration(null)).toBe("-");
    expect(duration(Number.POSITIVE_INFINITY)).toBe("-");
  });
});
