/**
 * RunPodSandbox: validate the pod config, then run it.
 *
 * @module
 */
import {
  type PodSandboxConfig,
  type RunPodSandboxRequest,
  type RunPodSandboxResponse,
  WindowsPodSandboxConfig,
} from "../../api/gen/api.ts";
import { invalidArgument } from "../../errors/mod.ts";
import type { RuntimeCore } from "../../runtime/core.ts";
import { runPodSandbox as run } from "../../runtime/pod/run.ts";
import type { HandlerContext } from "../context.ts";
import {
  absolutePath,
  hostname,
  inRange,
  nonEmpty,
  noNul,
  podName,
  podNamespace,
  podUid,
  required,
  stringMap,
} from "../validate.ts";

/** Validates every field of a pod config that sauropod acts on. */
export function validatePodConfig(config: PodSandboxConfig, f = "config"): void {
  const m = required(config.metadata, `${f}.metadata`);
  podName(m.name, `${f}.metadata.name`);
  podNamespace(m.namespace, `${f}.metadata.namespace`);
  podUid(m.uid, `${f}.metadata.uid`);
  inRange(m.attempt, 0, 2 ** 32 - 1, `${f}.metadata.attempt`);
  hostname(config.hostname, `${f}.hostname`);
  if (config.logDirectory) absolutePath(config.logDirectory, `${f}.log_directory`);
  const dns = config.dnsConfig;
  if (dns) {
    dns.servers.forEach((s, i) => nonEmpty(s, `${f}.dns_config.servers[${i}]`));
    dns.searches.forEach((s, i) => nonEmpty(s, `${f}.dns_config.searches[${i}]`));
    dns.options.forEach((s, i) => nonEmpty(s, `${f}.dns_config.options[${i}]`));
  }
  config.portMappings.forEach((p, i) => {
    inRange(p.containerPort, 0, 65535, `${f}.port_mappings[${i}].container_port`);
    inRange(p.hostPort, 0, 65535, `${f}.port_mappings[${i}].host_port`);
    noNul(p.hostIp, `${f}.port_mappings[${i}].host_ip`);
  });
  stringMap(config.labels, `${f}.labels`);
  stringMap(config.annotations, `${f}.annotations`);
  if (config.windows && WindowsPodSandboxConfig.encode(config.windows).finish().length > 0) {
    throw invalidArgument(`${f}.windows: Windows pod settings on a Linux node`);
  }
  if (config.linux) {
    noNul(config.linux.cgroupParent, `${f}.linux.cgroup_parent`);
    stringMap(config.linux.sysctls, `${f}.linux.sysctls`);
  }
}

/** The RunPodSandbox handler. */
export function runPodSandbox(
  core: RuntimeCore,
): (req: RunPodSandboxRequest, ctx: HandlerContext) => Promise<RunPodSandboxResponse> {
  return async (req: RunPodSandboxRequest, ctx: HandlerContext): Promise<RunPodSandboxResponse> => {
    const config = required(req.config, "config");
    validatePodConfig(config);
    noNul(req.runtimeHandler, "runtime_handler");
    return { podSandboxId: await run(core, config, req.runtimeHandler, ctx.signal) };
  };
}
