/**
 * The List/Stream filters checked once for both forms of each list: a state that is no
 * value of its enum is INVALID_ARGUMENT naming the field, rather than a filter that matches
 * nothing.
 *
 * @module
 */
import {
  type ContainerFilter,
  ContainerState,
  type PodSandboxFilter,
  PodSandboxState,
} from "../api/gen/api.ts";
import { enumValue } from "./validate.ts";

/** ListPodSandbox's and StreamPodSandboxes' filter, checked. */
export function podFilter(f: PodSandboxFilter | undefined): PodSandboxFilter | undefined {
  if (f?.state) enumValue(f.state.state, PodSandboxState, "filter.state.state");
  return f;
}

/** ListContainers' and StreamContainers' filter, checked. */
export function containerFilter(f: ContainerFilter | undefined): ContainerFilter | undefined {
  if (f?.state) enumValue(f.state.state, ContainerState, "filter.state.state");
  return f;
}
