/**
 * The full-screen terminal: alternate screen, hidden cursor, raw keys, redraw in place, resize.
 * Whatever ends the process (q, Ctrl-C, SIGTERM, SIGHUP, an exception) restores the terminal.
 */
import { writeSync } from "node:fs";

const ENTER = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
const LEAVE = "\x1b[?25h\x1b[?1049l";

export class Screen {
  private active = false;
  private readonly onExit = () => this.leave();

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly input: NodeJS.ReadStream,
  ) {}

  get cols(): number {
    return this.out.columns || 80;
  }

  get rows(): number {
    return this.out.rows || 24;
  }

  /** Take over the terminal; keys arrive as strings (one key or an escape sequence per call). */
  enter(onKey: (key: string) => void, onResize: () => void): void {
    if (this.active) return;
    this.active = true;
    this.out.write(ENTER);
    if (this.input.isTTY) this.input.setRawMode(true);
    this.input.setEncoding("utf8");
    this.input.on("data", (d: string) => {
      // Several keys may arrive in one read (pasted text, a fast typist).
      if (d.startsWith("\x1b")) onKey(d);
      else for (const k of d) onKey(k);
    });
    this.input.resume();
    this.out.on("resize", onResize);
    // Last resort: an exit from anywhere still restores the terminal (synchronously).
    process.on("exit", this.onExit);
  }

  /** Replace the screen's content with these lines (already cut to the size). */
  draw(lines: string[]): void {
    if (!this.active) return;
    this.out.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join("\r\n")}\x1b[J`);
  }

  /** Give the terminal back: cursor shown, main screen, cooked mode. Safe to call twice. */
  leave(): void {
    if (!this.active) return;
    this.active = false;
    process.off("exit", this.onExit);
    try {
      if (this.input.isTTY) this.input.setRawMode(false);
    } catch {
      // the terminal is already gone
    }
    this.input.pause();
    this.input.removeAllListeners("data");
    try {
      // Synchronous, so that it is written even when the process exits right after.
      const fd = (this.out as unknown as { fd?: number }).fd;
      if (typeof fd === "number") writeSync(fd, LEAVE);
      else this.out.write(LEAVE);
    } catch {
      // the terminal is already gone
    }
  }
}
