/**
 * RuntimeConfig: the kubelet 1.36+ requires the cgroup driver from it.
 *
 * @module
 */
import {
  CgroupDriver,
  type RuntimeConfigRequest,
  type RuntimeConfigResponse,
} from "../../api/gen/api.ts";
import type { Config } from "../../config/mod.ts";

/** The RuntimeConfig handler. */
export function runtimeConfig(
  config: Config,
): (_req: RuntimeConfigRequest) => Promise<RuntimeConfigResponse> {
  return (_req: RuntimeConfigRequest): Promise<RuntimeConfigResponse> =>
    Promise.resolve({
      linux: {
        cgroupDriver: config.runtime.cgroupDriver === "systemd"
          ? CgroupDriver.SYSTEMD
          : CgroupDriver.CGROUPFS,
      },
    });
}
