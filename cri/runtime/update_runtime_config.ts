/**
 * UpdateRuntimeConfig: the pod CIDR, handed to networking.
 *
 * @module
 */
import type { UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse } from "../../api/gen/api.ts";
import type { Logger } from "../../log/mod.ts";

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
