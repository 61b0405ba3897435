/**
 * ListPodSandbox, answered from memory.
 *
 * @module
 */
import type { PodSandbox, PodSandboxFilter } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../core.ts";
import type { Sandbox } from "../records.ts";
import { resolvePrefix } from "../ids.ts";
import { SANDBOX_STATE } from "../views.ts";

/** The CRI list entry of a pod. */
function podItem(s: Sandbox): PodSandbox {
  return {
    id: s.doc.id,
    metadata: s.config.metadata,
    state: SANDBOX_STATE[s.doc.state],
    createdAt: BigInt(s.doc.createdAtNs),
    labels: s.config.labels,
    annotations: s.config.annotations,
    runtimeHandler: s.doc.runtimeHandler,
  };
}

/** Pods matching `filter` (id prefix, state, every label of the selector). */
export function listPodSandboxes(core: RuntimeCore, filter?: PodSandboxFilter): PodSandbox[] {
  let items = [...core.sandboxes.values()].filter((s) => s.doc.phase !== "creating");
  if (filter?.id) {
    const id = resolvePrefix(filter.id, items.map((s) => s.doc.id));
    items = id && id !== "ambiguous" ? items.filter((s) => s.doc.id === id) : [];
  }
  if (filter?.state) {
    items = items.filter((s) => SANDBOX_STATE[s.doc.state] === filter.state!.state);
  }
  const sel = Object.entries(filter?.labelSelector ?? {});
  if (sel.length) items = items.filter((s) => sel.every(([k, v]) => s.config.labels[k] === v));
  return items.map(podItem);
}
