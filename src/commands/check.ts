import type { Command } from "@commander-js/extra-typings";

/** Registers `ctscope check`. */
export function registerCheck(_program: Command): void {}
