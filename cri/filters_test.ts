import { assertEquals, assertThrows } from "../testing/assert.ts";
import { ContainerState, PodSandboxState } from "../api/gen/api.ts";
import { SauropodError } from "../errors/mod.ts";
import { containerFilter, podFilter } from "./filters.ts";

// The decoder keeps a number outside the enum as it came on the wire, hence the casts.
Deno.test("a state filter outside its enum is INVALID_ARGUMENT naming the field", () => {
  const err = assertThrows(
    () =>
      containerFilter({
        id: "",
        podSandboxId: "",
        labelSelector: {},
        state: { state: 7 as ContainerState },
      }),
    SauropodError,
  );
  assertEquals(err.kind, "invalid-argument");
  assertEquals(
    err.message,
    "filter.state.state: 7 is not one of CONTAINER_CREATED, CONTAINER_RUNNING, CONTAINER_EXITED, " +
      "CONTAINER_UNKNOWN",
  );
  const pod = assertThrows(
    () => podFilter({ id: "", labelSelector: {}, state: { state: -1 as PodSandboxState } }),
    SauropodError,
  );
  assertEquals(pod.message, "filter.state.state: -1 is not one of SANDBOX_READY, SANDBOX_NOTREADY");
});

Deno.test("valid filters and no filter pass unchanged", () => {
  const f = {
    id: "",
    podSandboxId: "",
    labelSelector: {},
    state: { state: ContainerState.CONTAINER_EXITED },
  };
  assertEquals(containerFilter(f), f);
  assertEquals(containerFilter(undefined), undefined);
  const p = { id: "", labelSelector: {}, state: { state: PodSandboxState.SANDBOX_NOTREADY } };
  assertEquals(podFilter(p), p);
});
