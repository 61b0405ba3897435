/**
 * Every change of a container's or a pod's state, in one place: a table of the legal
 * transitions, and one call that checks a transition, applies it, persists the record and
 * publishes the CRI event — containerd's `UpdateSync`
 * (`internal/cri/store/container/status.go`), with the diagram written as data.
 *
 * A record has a CRI state and an intent-log phase (see `recovery.ts`):
 *
 *   container   (created, creating) ─created→ (created, ready) ─started→ (running, ready)
 *               (created, ready) ─startFailed→ (exited, ready)
 *               (created | running | unknown, ready | removing) ─exited→ (exited, =)
 *               (created | running | unknown, ready) ─restored→ (running, ready)
 *               (any, any) ─removing→ (=, removing) ─removed→ gone
 *               (any, creating) ─discarded→ gone
 *
 *   pod         (notready, creating) ─ready→ (ready, ready)
 *               (ready, ready | removing) ─stopped→ (notready, =)
 *               (ready, ready) ─lost→ (notready, ready)
 *               (any, any) ─removing→ (=, removing) ─removed→ gone
 *               (any, creating) ─discarded→ gone
 *
 * `=` keeps what was there. Removal may start in any phase: recovery rolls a pod whose
 * creation a crash interrupted back through the removal path. `restored` (recovery found the container running) and `lost`
 * (recovery found the pod's pause container or a pinned namespace gone) publish no event,
 * as before; `discarded` is the undo of a creation, which no client ever saw.
 *
 * Fields that change within a state (a pod's namespaces and IPs while it is set up, a
 * container's resources) are saved with `core.saveSandbox` / `core.saveContainer`.
 *
 * @module
 */
import { ContainerEventType } from "../api/gen/api.ts";
import { failedPrecondition, internal } from "../errors/mod.ts";
import type { RuntimeCore } from "./core.ts";
import { nowNs } from "../lib/clock.ts";
import { containerStatusOf, podStatusOf } from "./views.ts";
import type {
  Container,
  ContainerDoc,
  ContainerState,
  Phase,
  Sandbox,
  SandboxDoc,
  SandboxState,
} from "./records.ts";

/** What happens to a container. */
export type ContainerEvent =
  | "created"
  | "started"
  | "startFailed"
  | "exited"
  | "restored"
  | "removing"
  | "removed"
  | "discarded";

/** What happens to a pod. */
export type PodEvent = "ready" | "stopped" | "lost" | "removing" | "removed" | "discarded";

interface Rule<S extends string> {
  /** The states and phases the transition may start from. */
  readonly from: { readonly state: readonly S[] | "any"; readonly phase: readonly Phase[] };
  /** What it sets (absent: kept); `gone` deletes the record. */
  readonly to: { readonly state?: S; readonly phase?: Phase } | "gone";
  /** The CRI events it publishes, in order. */
  readonly publish: readonly ContainerEventType[];
}

const { CONTAINER_CREATED_EVENT, CONTAINER_STARTED_EVENT, CONTAINER_STOPPED_EVENT } =
  ContainerEventType;
const DELETED = ContainerEventType.CONTAINER_DELETED_EVENT;

/** The container transitions (the diagram above). */
export const CONTAINER_TRANSITIONS: Readonly<Record<ContainerEvent, Rule<ContainerState>>> = {
  created: {
    from: { state: ["created"], phase: ["creating"] },
    to: { phase: "ready" },
    publish: [CONTAINER_CREATED_EVENT],
  },
  started: {
    from: { state: ["created"], phase: ["ready"] },
    to: { state: "running" },
    publish: [CONTAINER_STARTED_EVENT],
  },
  startFailed: {
    from: { state: ["created"], phase: ["ready"] },
    to: { state: "exited" },
    publish: [CONTAINER_STOPPED_EVENT],
  },
  exited: {
    from: { state: ["created", "running", "unknown"], phase: ["ready", "removing"] },
    to: { state: "exited" },
    publish: [CONTAINER_STOPPED_EVENT],
  },
  restored: {
    from: { state: ["created", "running", "unknown"], phase: ["ready"] },
    to: { state: "running" },
    publish: [],
  },
  removing: {
    from: { state: "any", phase: ["creating", "ready", "removing"] },
    to: { phase: "removing" },
    publish: [],
  },
  removed: { from: { state: "any", phase: ["removing"] }, to: "gone", publish: [DELETED] },
  discarded: { from: { state: "any", phase: ["creating"] }, to: "gone", publish: [] },
};

/** The pod transitions (the diagram above). */
export const POD_TRANSITIONS: Readonly<Record<PodEvent, Rule<SandboxState>>> = {
  ready: {
    from: { state: ["notready"], phase: ["creating"] },
    to: { state: "ready", phase: "ready" },
    publish: [CONTAINER_CREATED_EVENT, CONTAINER_STARTED_EVENT],
  },
  stopped: {
    from: { state: ["ready"], phase: ["ready", "removing"] },
    to: { state: "notready" },
    publish: [CONTAINER_STOPPED_EVENT],
  },
  lost: { from: { state: ["ready"], phase: ["ready"] }, to: { state: "notready" }, publish: [] },
  removing: {
    from: { state: "any", phase: ["creating", "ready", "removing"] },
    to: { phase: "removing" },
    publish: [],
  },
  removed: { from: { state: "any", phase: ["removing"] }, to: "gone", publish: [DELETED] },
  discarded: { from: { state: "any", phase: ["creating"] }, to: "gone", publish: [] },
};

function allows<S extends string>(rule: Rule<S>, state: S, phase: Phase): boolean {
  return (rule.from.state === "any" || rule.from.state.includes(state)) &&
    rule.from.phase.includes(phase);
}

/** May container `c` undergo `event` now? */
export function canContainer(c: Container, event: ContainerEvent): boolean {
  return allows(CONTAINER_TRANSITIONS[event], c.doc.state, c.doc.phase);
}

/** May pod `s` undergo `event` now? */
export function canPod(s: Sandbox, event: PodEvent): boolean {
  return allows(POD_TRANSITIONS[event], s.doc.state, s.doc.phase);
}

/**
 * Throws FAILED_PRECONDITION, saying why, unless container `c` may undergo `event`; `action`
 * words the caller's request ("start it").
 */
export function requireContainer(c: Container, event: ContainerEvent, action: string): void {
  if (canContainer(c, event)) return;
  const { phase, state } = c.doc;
  const why = phase === "creating"
    ? "is being created"
    : phase === "removing"
    ? "is being removed"
    : `is ${state}`;
  throw failedPrecondition(`container "${c.doc.id}" ${why}: cannot ${action}`);
}

/**
 * Container `c` undergoes `event`: checked against the table (an illegal transition is a
 * bug: INTERNAL), `fields` and the new state applied, the record saved (or deleted, with
 * the name reservation), and the CRI event published — all in one call.
 */
export function containerTransition(
  core: RuntimeCore,
  c: Container,
  event: ContainerEvent,
  fields: Partial<Omit<ContainerDoc, "id" | "state" | "phase">> = {},
): void {
  const rule = CONTAINER_TRANSITIONS[event];
  if (!allows(rule, c.doc.state, c.doc.phase)) {
    throw internal(
      `container "${c.doc.id}" (${c.doc.state}, ${c.doc.phase}) cannot undergo "${event}"`,
    );
  }
  Object.assign(c.doc, fields);
  if (rule.to === "gone") {
    core.deps.store.delete("container", c.doc.id);
    core.containers.delete(c.doc.id);
    if (core.containerNames.get(c.nameKey) === c.doc.id) core.containerNames.delete(c.nameKey);
  } else {
    if (rule.to.state) c.doc.state = rule.to.state;
    if (rule.to.phase) c.doc.phase = rule.to.phase;
    core.saveContainer(c);
  }
  for (const type of rule.publish) publish(core, c.doc.id, c.doc.sandboxId, type);
}

/** Pod `s` undergoes `event`: as {@link containerTransition}, for pods. */
export function podTransition(
  core: RuntimeCore,
  s: Sandbox,
  event: PodEvent,
  fields: Partial<Omit<SandboxDoc, "id" | "state" | "phase">> = {},
): void {
  const rule = POD_TRANSITIONS[event];
  if (!allows(rule, s.doc.state, s.doc.phase)) {
    throw internal(`pod sandbox "${s.doc.id}" (${s.doc.state}, ${s.doc.phase}) cannot "${event}"`);
  }
  Object.assign(s.doc, fields);
  if (rule.to === "gone") {
    core.deps.store.delete("sandbox", s.doc.id);
    core.sandboxes.delete(s.doc.id);
    if (core.sandboxNames.get(s.nameKey) === s.doc.id) core.sandboxNames.delete(s.nameKey);
  } else {
    if (rule.to.state) s.doc.state = rule.to.state;
    if (rule.to.phase) s.doc.phase = rule.to.phase;
    core.saveSandbox(s);
  }
  for (const type of rule.publish) publish(core, s.doc.id, s.doc.id, type);
}

/**
 * Publishes a lifecycle event for GetContainerEvents, with the CRI statuses it carries:
 * its pod's and its pod's containers'.
 */
function publish(
  core: RuntimeCore,
  containerId: string,
  sandboxId: string,
  type: ContainerEventType,
): void {
  try {
    const s = core.sandboxes.get(sandboxId);
    core.events.publish({
      containerId,
      containerEventType: type,
      createdAt: nowNs(),
      podSandboxStatus: s ? podStatusOf(s) : undefined,
      containersStatuses: core.containersOf(sandboxId).map(containerStatusOf),
    });
  } catch (err) {
    core.log.warn("cannot build event statuses", { containerId, err });
  }
}
