/**
 * ListContainers, answered from memory.
 *
 * @module
 */
import type { Container as CriContainer, ContainerFilter } from "../../api/gen/api.ts";
import type { RuntimeCore } from "../core.ts";
import type { Container } from "../records.ts";
import { resolvePrefix } from "../ids.ts";
import { CONTAINER_STATE, imageSpecOf } from "../views.ts";

/** The CRI list entry of a container. */
function containerItem(c: Container): CriContainer {
  return {
    id: c.doc.id,
    podSandboxId: c.doc.sandboxId,
    metadata: c.config.metadata,
    image: imageSpecOf(c),
    imageRef: c.doc.imageId,
    state: CONTAINER_STATE[c.doc.state],
    createdAt: BigInt(c.doc.createdAtNs),
    labels: c.config.labels,
    annotations: c.config.annotations,
    imageId: c.doc.imageId,
  };
}

/** Containers matching `filter` (id prefix, pod id prefix, state, labels). */
export function listContainers(core: RuntimeCore, filter?: ContainerFilter): CriContainer[] {
  let items = [...core.containers.values()].filter((c) => c.doc.phase !== "creating");
  if (filter?.id) {
    const id = resolvePrefix(filter.id, items.map((c) => c.doc.id));
    items = id && id !== "ambiguous" ? items.filter((c) => c.doc.id === id) : [];
  }
  if (filter?.podSandboxId) {
    const pod = resolvePrefix(filter.podSandboxId, core.sandboxes.keys());
    items = pod && pod !== "ambiguous" ? items.filter((c) => c.doc.sandboxId === pod) : [];
  }
  if (filter?.state) {
    items = items.filter((c) => CONTAINER_STATE[c.doc.state] === filter.state!.state);
  }
  const sel = Object.entries(filter?.labelSelector ?? {});
  if (sel.length) items = items.filter((c) => sel.every(([k, v]) => c.config.labels[k] === v));
  return items.map(containerItem);
}
