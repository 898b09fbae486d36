/**
 * `ctscope analyze --live`: a top-like view of the kernel's conntrack table, a one-shot live
 * snapshot (--once), or one NDJSON document per interval (--json).
 */
import { type LiveOptions, validateLiveOptions } from "./options.js";
import { runLiveSession } from "./session.js";

export type { LiveDocument, LiveInfo } from "./document.js";
export { type NetlinkAddon, netlinkAddon } from "./netlink.js";
export { type LiveOptions, type LiveSourceName, parseInterval, SOURCE_CHOICES, type SourceChoice } from "./options.js";
export { chooseSource, probeSource, SOURCE_LABELS } from "./sources.js";

/** Run the live modes and return the exit code. User errors throw CtscopeError subclasses (exit 2, 3). */
export async function runLive(opts: LiveOptions): Promise<number> {
  const o = validateLiveOptions(opts);
  if (o.replay) {
    // Loaded here: only a replay needs it.
    const { runReplay } = await import("./replay.js");
    return runReplay({ ...o, replay: o.replay });
  }
  return runLiveSession(o);
}
