/**
 * RuntimeConfig (the kubelet 1.36+ requires the cgroup driver from it) and
 * UpdateRuntimeConfig (the pod CIDR).
 *
 * @module
 */
import {
  CgroupDriver,
  type RuntimeConfigRequest,
  type RuntimeConfigResponse,
  type UpdateRuntimeConfigRequest,
  type UpdateRuntimeConfigResponse,
} from "../../api/gen/api.ts";
import type { Config } from "../../config/mod.ts";
import type { Logger } from "../../log/mod.ts";

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

/** The UpdateRuntimeConfig handler: hands the pod CIDR to networking. */
export function updateRuntimeConfig(
  setPodCidr: (cidr: string) => void,
  log: Logger,
): (req: UpdateRuntimeConfigRequest) => Promise<UpdateRuntimeConfigResponse> {
  return (req: UpdateRuntimeConfigRequest): Promise<UpdateRuntimeConfigResponse> => {
    const cidr = req.runtimeConfig?.networkConfig?.podCidr ?? "";
    if (cidr) {
      setPodCidr(cidr);
      log.info("pod CIDR updated", { podCidr: cidr });
    }
    return Promise.resolve({});
  };
}
