/** ctscope as a library: analyze conntrack dumps into a Snapshot, then diagnose and render it. */
export { type AnalyzeOptions, analyze, defaultThreads, type Progress } from "./engine/analyze.js";
export { type BackendInfo, backendInfo, getBackend } from "./engine/backend.js";
export type { BackendChoice, BackendName, ChunkAggregate, CompiledFilter } from "./engine/contract.js";
export { compileFilter, parseCidr } from "./engine/filter.js";
export type * from "./engine/types.js";
export { BackendError, CtscopeError, InputError, UsageError } from "./errors.js";
export { scanBuffer } from "./parse/tokenizer.js";
