/**
 * The runtime-binary settings a shim is created with: those of the runtime handler its pod
 * runs under (`handlers.ts`).
 *
 * @module
 */
import type { RuntimeSpec } from "../shim/protocol.ts";
import type { RuntimeCore } from "./core.ts";
import type { RuntimeHandlerInfo } from "./handlers.ts";

/** Settings of the OCI runtime of `handler` (default: the default handler) for shims. */
export function shimRuntime(core: RuntimeCore, handler?: RuntimeHandlerInfo): RuntimeSpec {
  const h = handler ?? core.handlers.default;
  return {
    binary: h.binary,
    root: h.root,
    systemdCgroup: core.config.runtime.cgroupDriver === "systemd",
    callTimeoutMs: core.config.runtime.callTimeoutSeconds * 1000,
    ...(h.options.length ? { options: h.options } : {}),
  };
}

/** The runtime settings of the pod `handler` name recorded on a pod or container. */
export function recordedRuntime(core: RuntimeCore, handler: string | undefined): RuntimeSpec {
  return shimRuntime(core, core.handlers.recorded(handler));
}
