import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { NamespaceMode, PodSandboxConfig } from "../../api/gen/api.ts";
import { SauropodError } from "../../errors/mod.ts";
import type { RuntimeHandlerInfo } from "../handlers.ts";
import { podUserns } from "./userns.ts";

const handler = (userNamespaces: boolean): RuntimeHandlerInfo => ({
  name: "crun",
  binary: "/usr/bin/crun",
  root: "/run/s/crun",
  options: [],
  podAnnotations: [],
  containerAnnotations: [],
  features: { recursiveReadOnlyMounts: true, userNamespaces },
  probe: { version: "crun version 1.8.1", usable: true, source: "version-table", notes: [] },
});

const map = (hostId: number, length = 65536, containerId = 0) => ({ hostId, containerId, length });

function pod(
  mode: NamespaceMode,
  uids = [map(65536)],
  gids = uids,
  network = NamespaceMode.POD,
): PodSandboxConfig {
  return PodSandboxConfig.fromPartial({
    linux: {
      securityContext: {
        namespaceOptions: {
          network,
          pid: NamespaceMode.CONTAINER,
          usernsOptions: { mode, uids, gids },
        },
      },
    },
  });
}

Deno.test("podUserns(): the kubelet's POD mapping on a handler that supports it", () => {
  assertEquals(podUserns(pod(NamespaceMode.POD, [map(131072)]), handler(true)), {
    hostId: 131072,
    length: 65536,
  });
  assertEquals(podUserns(pod(NamespaceMode.NODE, [], []), handler(false)), undefined);
  assertEquals(podUserns(PodSandboxConfig.fromPartial({}), handler(false)), undefined);
});

Deno.test("podUserns(): refuses mappings the kubelet never sends, naming the field", () => {
  const bad: [PodSandboxConfig, string][] = [
    [pod(NamespaceMode.POD, []), "userns_options.uids: exactly one mapping is needed, got 0"],
    [pod(NamespaceMode.POD, [map(65536), map(131072)]), "uids: exactly one mapping"],
    [pod(NamespaceMode.POD, [map(65536, 0)]), "uids[0].length: is 0"],
    [pod(NamespaceMode.POD, [map(0)]), "uids[0].host_id: 0 overlaps the host's own ids"],
    [pod(NamespaceMode.POD, [map(1000)]), "uids[0].host_id: 1000 overlaps the host's own ids"],
    [pod(NamespaceMode.POD, [map(65537)]), "not a multiple of 65536"],
    [pod(NamespaceMode.POD, [map(65536, 65536, 1)]), "uids[0].container_id: must be 0"],
    [pod(NamespaceMode.POD, [map(2 ** 32 - 65536, 131072)]), "go past"],
    [pod(NamespaceMode.POD, [map(65536)], [map(131072)]), "must be identical"],
    [pod(NamespaceMode.CONTAINER), "userns_options.mode: CONTAINER is not supported"],
    [pod(NamespaceMode.NODE), "mode NODE takes no uids or gids"],
    [
      pod(NamespaceMode.POD, [map(65536)], [map(65536)], NamespaceMode.NODE),
      "the node's network namespace",
    ],
  ];
  for (const [config, msg] of bad) {
    const err = assertThrows(() => podUserns(config, handler(true)), SauropodError, msg);
    assertEquals(err.kind, "invalid-argument", msg);
  }
});

Deno.test("podUserns(): a handler without user namespaces refuses a POD mapping", () => {
  const err = assertThrows(
    () => podUserns(pod(NamespaceMode.POD), handler(false)),
    SauropodError,
    'userns_options: the runtime handler "crun" does not support user namespaces',
  );
  assertEquals(err.kind, "failed-precondition");
});
