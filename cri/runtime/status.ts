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
import type { HandlerSet } from "../../runtime/handlers.ts";

/** A condition as the domain reports it. */
export interface Readiness {
  ready: boolean;
  reason?: string;
  message?: string;
}

/** What Status needs from the rest of the agent. */
export interface StatusDeps {
  config: Config;
  /** The runtime handlers with their probed features. */
  handlers: HandlerSet;
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

/**
 * The runtime handlers sauropod serves, each with its probed features, and the default one
 * again under "" (as containerd and CRI-O list it: the kubelet looks "" up for pods with no
 * RuntimeClass).
 */
export function runtimeHandlers(handlers: HandlerSet): RuntimeHandler[] {
  const entry = (name: string, h: HandlerSet["default"]): RuntimeHandler => ({
    name,
    features: {
      recursiveReadOnlyMounts: h.features.recursiveReadOnlyMounts,
      userNamespaces: h.features.userNamespaces,
    },
  });
  return [entry("", handlers.default), ...handlers.all().map((h) => entry(h.name, h))];
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
      info.runtimeHandlers = JSON.stringify(
        deps.handlers.all().map((h) => ({
          name: h.name,
          default: h.name === deps.handlers.defaultName,
          binary: h.binary,
          root: h.root,
          version: h.probe.version,
          source: h.probe.source,
          features: h.features,
          notes: h.probe.notes,
        })),
      );
    }
    return {
      status: {
        conditions: [condition("RuntimeReady", runtime), condition("NetworkReady", network)],
      },
      info,
      runtimeHandlers: runtimeHandlers(deps.handlers),
      features: {
        supplementalGroupsPolicy: true,
        userNamespacesHostNetwork: false,
        mountOptions: false,
      },
    };
  };
}
