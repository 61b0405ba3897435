/**
 * The agent's side of the shims: {@link ShimManager} starts one shim per container (a
 * detached `main.ts shim` process with narrow permissions), finds live shims again after
 * an agent restart, and cleans up after dead ones; a {@link ShimHandle} drives one shim
 * over its socket (`shim/protocol.ts`).
 *
 * @module
 */
export { ShimManager, type ShimManagerOptions } from "./_manager.ts";
export { DEFAULT_EXEC_OUTPUT_LIMIT, SHIM_DIED } from "./_handle.ts";
export { SHIM_V8_FLAGS } from "./_argv.ts";
export { bundleShim } from "./_bundle.ts";
export type {
  CreateTimings,
  ExecOptions,
  ExecSyncOptions,
  ExecSyncResult,
  ExitRecord,
  RuntimeSpec,
  ShimCreateOptions,
  ShimHandle,
  ShimState,
  StdioSession,
  TerminalSize,
} from "./_types.ts";
