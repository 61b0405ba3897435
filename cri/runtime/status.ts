/**
 * Status: the node's Ready condition hangs on it. RuntimeReady and NetworkReady are
 * reported truthfully, with a reason and message when false; `verbose` adds the effective
 * configuration as JSON (credentials redacted).
 *
 * @module
 */
import type {
  RuntimeCondition,
  RuntimeHandler,
  StatusRequest,
  StatusResponse,
} from "../../api/gen/api.ts";
import type { Config } from "../../config/mod.ts";

/** A condition as the domain reports it. */
export interface Readiness {
  ready: boolean;
  reason?: string;
  message?: string;
}

/** What Status needs from the rest of the agent. */
export interface StatusDeps {
  config: Config;
  runtimeReady(): Promise<Readiness>;
  networkReady(): Promise<Readiness>;
  /**
   * Extra verbose info (e.g. the streaming server address, cgroup layout, whether CRIU can
   * checkpoint here).
   */
  info?(): Record<string, unknown> | Promise<Record<string, unknown>>;
}

function condition(type: string, r: Readiness): RuntimeCondition {
  return {
    type,
    status: r.ready,
    reason: r.ready ? "" : (r.reason ?? "NotReady"),
    message: r.ready ? "" : (r.message ?? ""),
  };
}

/** The configuration with secrets replaced, for the verbose info map. */
export function redactedConfig(config: Config): Config {
  const copy = structuredClone(config);
  for (const host of Object.keys(copy.image.auths)) {
    copy.image.auths[host] = Object.fromEntries(
      Object.keys(copy.image.auths[host] ?? {}).map((k) => [k, "<redacted>"]),
    );
  }
  return copy;
}

/** The runtime handlers sauropod serves: the default ("") and its runtime binary's name. */
export function runtimeHandlers(config: Config): RuntimeHandler[] {
  const features = { recursiveReadOnlyMounts: false, userNamespaces: false };
  const name = config.runtime.binary.split("/").pop() ?? "runc";
  return [{ name: "", features }, { name, features }];
}

/** Builds the Status handler. */
export function status(deps: StatusDeps): (req: StatusRequest) => Promise<StatusResponse> {
  return async (req) => {
    const [runtime, network] = await Promise.all([deps.runtimeReady(), deps.networkReady()]);
    const info: Record<string, string> = {};
    if (req.verbose) {
      info.config = JSON.stringify(redactedConfig(deps.config));
      for (const [k, v] of Object.entries((await deps.info?.()) ?? {})) {
        info[k] = JSON.stringify(v);
      }
    }
    return {
      status: {
        conditions: [condition("RuntimeReady", runtime), condition("NetworkReady", network)],
      },
      info,
      runtimeHandlers: runtimeHandlers(deps.config),
      features: {
        supplementalGroupsPolicy: true,
        userNamespacesHostNetwork: false,
        mountOptions: false,
      },
    };
  };
}
