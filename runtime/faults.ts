/**
 * Named fault points for the tests of crash recovery and of races: when the config's
 * `debug.fault_points` names a point, the agent does there what the entry asks.
 *
 * - `"<point>"` (or `"<point>=crash"`): the agent dies on the spot — no finally block, no
 *   undo, no graceful shutdown — exactly what a SIGKILL at that moment would leave behind.
 * - `"<point>=hold"`: the operation stops there, holding whatever it holds (its locks, the
 *   record in phase `creating`), while the rest of the agent keeps serving. It creates
 *   `<state>/fault-holds/<point>` and goes on once that file is removed: a test waits for
 *   the file, does what must race the operation, then removes it.
 *
 * @module
 */
import type { RuntimeCore } from "./core.ts";

/** The fault points the runtime offers, in the order an operation reaches them. */
export const FAULT_POINTS = [
  "sandbox-run:after-record",
  "sandbox-run:after-pin",
  "sandbox-run:after-cni",
  "sandbox-remove:after-mark",
  "sandbox-remove:after-containers",
  "container-create:after-record",
  "container-create:after-mount",
  "container-create:after-volumes",
  "container-create:after-shim",
  "container-start:after-start",
  "container-remove:after-mark",
  "container-remove:after-delete",
] as const;

/** One of {@link FAULT_POINTS}. */
export type FaultPoint = typeof FAULT_POINTS[number];

/** What a fault point does. */
export type FaultAction = "crash" | "hold";

/** How often a held operation looks for its release. */
const HOLD_POLL_MS = 50;

/** The file a hold at `point` waits on (its removal releases the operation). */
export function holdFile(state: string, point: FaultPoint): string {
  return `${state}/fault-holds/${point}`;
}

/** What the config asks for at `point`, if anything. */
export function faultAction(
  entries: readonly string[],
  point: FaultPoint,
): FaultAction | undefined {
  for (const e of entries) {
    const [name, action = "crash"] = e.split("=", 2);
    if (name === point && (action === "crash" || action === "hold")) return action;
  }
  return undefined;
}

/** Dies or holds here if the config asks for it. */
export async function faultPoint(core: RuntimeCore, point: FaultPoint): Promise<void> {
  const action = faultAction(core.config.debug.faultPoints, point);
  if (action === "crash") {
    core.log.warn("fault point reached: the agent dies here (debug.fault_points)", { point });
    Deno.exit(137);
  }
  if (action !== "hold") return;
  const file = holdFile(core.config.state, point);
  await Deno.mkdir(`${core.config.state}/fault-holds`, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(file, `${Deno.pid}\n`, { mode: 0o600 });
  core.log.warn("fault point reached: holding until the file is removed (debug.fault_points)", {
    point,
    file,
  });
  while (await Deno.lstat(file).then(() => true, () => false)) {
    await new Promise((r) => setTimeout(r, HOLD_POLL_MS));
  }
  core.log.warn("fault point released", { point });
}
