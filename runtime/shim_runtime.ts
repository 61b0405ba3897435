/**
 * The runtime-binary settings every shim is created with.
 *
 * @module
 */
import type { RuntimeSpec } from "../shim/protocol.ts";
import type { RuntimeCore } from "./core.ts";

/** Settings of the OCI runtime for shims, from the config. */
export function shimRuntime(core: RuntimeCore): RuntimeSpec {
  return {
    binary: core.runtimeBinary,
    root: core.config.runtime.root,
    systemdCgroup: core.config.runtime.cgroupDriver === "systemd",
    callTimeoutMs: core.config.runtime.callTimeoutSeconds * 1000,
  };
}
