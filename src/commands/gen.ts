import type { Command } from "@commander-js/extra-typings";

/** Registers `ctscope gen`. */
export function registerGen(_program: Command): void {}
