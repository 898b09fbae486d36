/**
 * The full-screen view in a real terminal (tmux), driven by recorded documents
 * (test/fixtures/live/replay.ndjson, the --live --json format): what it draws, the keys (s, p, q,
 * Ctrl-C), trimming and redrawing on resize, and the terminal given back on every way out.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, LIVE_FIXTURES, liveCommand, ROOT } from "./fixtures/live/cli.js";

function tmuxAvailable(): string | null {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
    return null;
  } catch {
    return "tmux not found on PATH";
  }
}
const missing = tmuxAvailable();
if (missing) console.log(`live-view: skipped: ${missing}`);

const REPLAY = join(LIVE_FIXTURES, "replay.ndjson");
const sessions: string[] = [];
let serial = 0;

/**
 * Each session runs on its own tmux server (-L socket named after it): a shared server exits when its
 * last session is killed, and a session started at that moment fails with "server exited unexpectedly".
 */
const tmux = (...args: string[]): string => {
  const t = args.indexOf("-t");
  const s = args.indexOf("-s");
  const name = t >= 0 ? args[t + 1] : s >= 0 ? args[s + 1] : undefined;
  return execFileSync("tmux", name ? ["-L", name, ...args] : args, { encoding: "utf8" });
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start the view in a fresh detached tmux session; the pane's shell reports the exit code. */
function start(cols = 120, rows = 40): string {
  const name = `ctscope-view-${process.pid}-${serial++}`;
  const cmd = [
    `cd '${ROOT}'`,
    "echo BEFORE",
    `CTSCOPE_LIVE_REPLAY='${REPLAY}' node ${liveCommand()
      .map((a) => `'${a}'`)
      .join(" ")} --interval 0.3`,
    "echo EXITED $?",
    "sleep 600",
  ].join("; ");
  tmux("new-session", "-d", "-s", name, "-x", String(cols), "-y", String(rows), cmd);
  sessions.push(name);
  return name;
}

const screen = (s: string): string[] => tmux("capture-pane", "-p", "-t", s).replace(/\n$/, "").split("\n");
const flags = (s: string): { alternate: boolean; cursor: boolean } => {
  const [a, c] = tmux("display", "-p", "-t", s, "#{alternate_on} #{cursor_flag}").trim().split(" ");
  return { alternate: a === "1", cursor: c === "1" };
};
const keys = (s: string, ...k: string[]) => tmux("send-keys", "-t", s, ...k);

async function waitFor(s: string, pred: (lines: string[]) => boolean, what: string, ms = 4000): Promise<string[]> {
  const until = Date.now() + ms;
  let lines: string[] = [];
  while (Date.now() < until) {
    lines = screen(s);
    if (pred(lines)) return lines;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${lines.join("\n")}`);
}

const has = (text: string) => (lines: string[]) => lines.some((l) => l.includes(text));
/** The last replayed document is on screen (its clock). */
const lastDoc = has("10:00:03");
const rowOrder = (lines: string[], keys: string[]): number[] => keys.map((k) => lines.findIndex((l) => l.startsWith(k)));

/** The node process the pane's shell is running. */
function viewPid(s: string): number {
  const shell = tmux("display", "-p", "-t", s, "#{pane_pid}").trim();
  const children = readFileSync(`/proc/${shell}/task/${shell}/children`, "utf8").trim().split(/\s+/);
  return Number(children[0]);
}

describe.skipIf(missing !== null)("the live view in a terminal", () => {
  beforeAll(() => {
    ensureBuilt();
    liveCommand();
  }, 200_000);

  afterEach(() => {
    while (sessions.length > 0) {
      try {
        const name = sessions.pop()!;
        tmux("kill-session", "-t", name);
      } catch {
        // already gone
      }
    }
  });

  it("draws the gauge, rates, anomalies, the recommendation and the tables with their change", async () => {
    const s = start();
    const lines = await waitFor(s, lastDoc, "the last document");
    expect(flags(s)).toEqual({ alternate: true, cursor: false });
    expect(lines).toHaveLength(40);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(120);
    expect(lines[0]).toMatch(
      /^ ctscope live {2}ctnetlink dump \(native\) · every 1s · 10:00:03 · sort: count {2}q quit · p pause · s sort/,
    );
    expect(lines[1]).toMatch(/^Table {4}\[█{40}\] 100\.0% {2}65,536 \/ 65,536 {2}effective 37\.4% \(without UNREPLIED\) {2}FULL$/);
    expect(lines[2]).toBe("Growth   +2,000/s   full in now   drops 800/s   early_drop 0/s   insert_failed 0/s   table-full msgs +3");
    expect(lines[3]).toMatch(/^Fill {5}▇▇██ +Drops\/s ▁▁▅█$/);
    expect(lines[4]).toBe("Scan     #2: 65,536 entries in 0.42 s, every 2s (at 10:00:03)");
    expect(lines.slice(6, 11)).toEqual([
      "Anomalies (2)",
      "  CRIT Table at its max: 65,536 of 65,536 entries",
      "  CRIT SYN flood from 198.51.100.0/24: 40,000 half-open entries",
      "Do       Give the table headroom while the flood is handled.",
      "  $ sysctl -w net.netfilter.nf_conntrack_max=131072",
    ]);
    const row = (key: string) => lines.find((l) => l.startsWith(key))!.replace(/\s+/g, " ");
    expect(row("Top remotes")).toBe("Top remotes (1,200) │ Top services (3)");
    expect(row("198.51.100.7")).toBe("198.51.100.7 41,000 +11,000 41,000 │ tcp 10.0.0.1:443 52,000 +12,000 41,000");
    expect(row("203.0.113.9")).toBe("203.0.113.9 11,000 -1,000 │ udp 10.0.0.1:53 13,536 +1,536");
    expect(row("192.0.2.77")).toBe("192.0.2.77 9,000 new │");
    expect(row("198.51.100.0/24")).toBe("198.51.100.0/24 52,000 +12,000 41,000 │ tcp SYN_RECV 41,000 +11,000 41,000");
  });

  it("s cycles the sort (count, change, unreplied), p pauses, q quits and gives the terminal back", async () => {
    const s = start();
    let lines = await waitFor(s, lastDoc, "the last document");
    const remotes = ["198.51.100.7", "203.0.113.9", "192.0.2.77"];
    const [a, b, c] = rowOrder(lines, remotes);
    expect(a! < b! && b! < c!).toBe(true);

    keys(s, "s");
    lines = await waitFor(s, has("sort: change"), "sort: change");
    const [a2, b2, c2] = rowOrder(lines, remotes);
    // +11,000, then new (9,000), then -1,000.
    expect(a2! < c2! && c2! < b2!).toBe(true);

    keys(s, "s");
    lines = await waitFor(s, has("sort: unreplied"), "sort: unreplied");
    const [a3, b3, c3] = rowOrder(lines, remotes);
    expect(a3! < b3! && b3! < c3!).toBe(true);

    keys(s, "s");
    await waitFor(s, has("sort: count"), "sort: count again");

    keys(s, "p");
    lines = await waitFor(s, has(" PAUSED "), "PAUSED");
    expect(lines[0]).toContain(" PAUSED ");
    keys(s, "p");
    await waitFor(s, (l) => !l[0]!.includes("PAUSED"), "unpaused");

    keys(s, "q");
    lines = await waitFor(s, has("EXITED 0"), "the exit");
    expect(flags(s)).toEqual({ alternate: false, cursor: true });
    expect(lines[0]).toBe("BEFORE");
    expect(lines.some((l) => l.includes("ctscope live"))).toBe(false);
  });

  it("fits and redraws when the terminal is resized", { timeout: 20_000 }, async () => {
    const s = start(120, 40);
    await waitFor(s, lastDoc, "the last document");
    tmux("resize-window", "-t", s, "-x", "72", "-y", "22");
    const lines = await waitFor(s, (l) => l.length === 22 && l.some((x) => x.startsWith("Top remotes")), "the narrow layout");
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(72);
    expect(lines[0]).toMatch(/^ ctscope live/);
    // One column: remotes and services fit below the diagnosis, prefixes and states do not.
    expect(lines.some((l) => l.includes("│"))).toBe(false);
    expect(lines.some((l) => l.startsWith("Top services"))).toBe(true);
    expect(lines.some((l) => l.startsWith("Top source prefixes"))).toBe(false);
    expect(lines[20]).toMatch(/^udp 10\.0\.0\.1:53 +13,536 +\+1,536/);
    tmux("resize-window", "-t", s, "-x", "130", "-y", "12");
    // Too short for the tables: the gauges and the diagnosis stay, cut at the last row.
    const small = await waitFor(s, (l) => l.length === 12 && (l[1] ?? "").startsWith("Table"), "the short screen");
    expect(small[0]).toMatch(/^ ctscope live/);
    expect(small[11]).toBe("");
    expect(small.some((l) => l.startsWith("Top remotes"))).toBe(false);
  });

  it("Ctrl-C quits and gives the terminal back", async () => {
    const s = start();
    await waitFor(s, lastDoc, "the last document");
    keys(s, "C-c");
    await waitFor(s, has("EXITED 0"), "the exit");
    expect(flags(s)).toEqual({ alternate: false, cursor: true });
  });

  it("SIGTERM gives the terminal back too", async () => {
    const s = start();
    await waitFor(s, lastDoc, "the last document");
    process.kill(viewPid(s), "SIGTERM");
    await waitFor(s, has("EXITED 143"), "the exit");
    expect(flags(s)).toEqual({ alternate: false, cursor: true });
  });
});
