/**
 * Named crash points for the crash-recovery tests: when the config's `debug.fault_points`
 * names a point, the agent dies there on the spot — no finally block, no undo, no graceful
 * shutdown — exactly what a SIGKILL at that moment would leave behind.
 *
 * @module
 */
import type { RuntimeCore } from "./core.ts";

/** The crash points the runtime offers, in the order an operation reaches them. */
export const FAULT_POINTS = [
  "sandbox-run:after-record",
  "sandbox-run:after-pin",
  "sandbox-run:after-cni",
  "sandbox-remove:after-mark",
  "sandbox-remove:after-containers",
  "container-create:after-record",
  "container-create:after-mount",
  "container-create:after-shim",
  "container-start:after-start",
  "container-remove:after-mark",
  "container-remove:after-delete",
] as const;

/** One of {@link FAULT_POINTS}. */
export type FaultPoint = typeof FAULT_POINTS[number];

/** Dies here if the config asks for it. */
export function faultPoint(core: RuntimeCore, point: FaultPoint): void {
  if (core.config.debug.faultPoints.includes(point)) {
    core.log.warn("fault point reached: the agent dies here (debug.fault_points)", { point });
    Deno.exit(137);
  }
}
