/**
 * UpdateRuntimeConfig: the pod CIDR, handed to networking.
 *
 * @module
 */
import type { UpdateRuntimeConfigRequest, UpdateRuntimeConfigResponse } from "../../api/gen/api.ts";
import type { Logger } from "../../log/mod.ts";
import { invalidArgument, isInvalidArgument, messageOf } from "../../errors/mod.ts";

/**
 * The UpdateRuntimeConfig handler: hands the pod CIDR to networking, which keeps it across
 * agent restarts (the kubelet sends it again only when it changes). An empty CIDR changes
 * nothing.
 */
export function updateRuntimeConfig(
  setPodCidr: (cidr: string) => void,
  log: Logger,
): (req: UpdateRuntimeConfigRequest) => Promise<UpdateRuntimeConfigResponse> {
  return (req: UpdateRuntimeConfigRequest): Promise<UpdateRuntimeConfigResponse> => {
    const cidr = req.runtimeConfig?.networkConfig?.podCidr ?? "";
    if (cidr) {
      try {
        setPodCidr(cidr);
      } catch (err) {
        if (!isInvalidArgument(err)) throw err;
        throw invalidArgument(`runtime_config.network_config.pod_cidr: ${messageOf(err)}`);
      }
      log.info("pod CIDR updated", { podCidr: cidr });
    }
    return Promise.resolve({});
  };
}
