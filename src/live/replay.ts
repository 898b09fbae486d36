/**
 * Replay: the view driven by recorded documents (the NDJSON of `--live --json`), one per
 * interval, with the same keys. For tests and demos; nothing is read from the kernel.
 */
import { readFileSync } from "node:fs";
import { describeErrno, InputError } from "../errors.js";
import { useColor } from "../report/color.js";
import type { ViewDoc } from "./document.js";
import type { ValidLiveOptions } from "./options.js";
import { ScanTracker } from "./session.js";
import { Screen } from "./terminal.js";
import { renderView, SORT_KEYS, type SortKey } from "./view.js";

export function readReplay(path: string): ViewDoc[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new InputError(`${path}: ${describeErrno(err)}`, path);
  }
  const docs: ViewDoc[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      docs.push(JSON.parse(line) as ViewDoc);
    } catch (err) {
      throw new InputError(`${path}:${i + 1}: not a JSON document (${(err as Error).message})`, path);
    }
  });
  if (docs.length === 0) throw new InputError(`${path}: no documents`, path);
  return docs;
}

export function runReplay(o: ValidLiveOptions & { replay: string }): Promise<number> {
  const docs = readReplay(o.replay);
  const out = o.stdout ?? process.stdout;
  const input = o.stdin ?? process.stdin;
  const screen = out.isTTY && input.isTTY ? new Screen(out, input) : null;
  const tracker = new ScanTracker();
  const fill: number[] = [];
  const drops: number[] = [];
  let index = -1;
  let sort: SortKey = "count";
  let paused = false;
  const color = useColor(out);

  const lines = (cols: number, rows: number) =>
    renderView(
      { doc: docs[index] ?? null, previous: tracker.previous, fillHistory: fill, dropHistory: drops, sort, paused },
      { cols, rows, color, keys: screen !== null },
    );
  const draw = () => {
    if (screen) screen.draw(lines(screen.cols, screen.rows));
  };
  const advance = (): boolean => {
    if (index + 1 >= docs.length) return false;
    index++;
    const d = docs[index]!;
    tracker.observe(d);
    fill.push(d.live?.fill ?? 0);
    drops.push(d.live?.drop_rate ?? 0);
    return true;
  };

  return new Promise<number>((resolve) => {
    let timer: NodeJS.Timeout | null = null;
    const finish = (code: number) => {
      if (timer) clearInterval(timer);
      timer = null;
      screen?.leave();
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      resolve(code);
    };
    const onInt = () => finish(0);
    const onTerm = () => finish(143);
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    const step = () => {
      if (paused) return;
      const moved = advance();
      if (screen) {
        if (moved) draw();
      } else if (moved) {
        out.write(`${lines(out.columns || 120, 1000).join("\n")}\n\n`);
      } else finish(0);
    };
    screen?.enter((k) => {
      if (k === "q" || k === "Q" || k === "\x03") finish(0);
      else if (k === "p" || k === "P" || k === " ") {
        paused = !paused;
        draw();
      } else if (k === "s" || k === "S") {
        sort = SORT_KEYS[(SORT_KEYS.indexOf(sort) + 1) % SORT_KEYS.length]!;
        draw();
      }
    }, draw);
    step();
    timer = setInterval(step, o.interval * 1000);
  });
}
