import type { Command } from "@commander-js/extra-typings";

/** Registers `ctscope bench`. */
export function registerBench(_program: Command): void {}
