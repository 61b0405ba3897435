/**
 * Runtime handlers (Kubernetes RuntimeClass handlers): which OCI runtime binary, state root
 * and annotation allowlists a pod's containers run under, and what that runtime can do.
 *
 * A pod names its handler in RunPodSandbox (`runtime_handler`, "" for the default); the
 * resolved name is recorded on the pod and on each of its containers, and every runtime
 * call for them (create, start, exec, kill, delete, and the agent's cleanups after a crash)
 * goes through that handler's binary and root. The features are probed once at start
 * (`app/handler_probe.ts`): Status advertises them, and the spec builder refuses what the
 * pod's handler cannot do.
 *
 * @module
 */
import { notFound } from "../errors/mod.ts";
import type { HandlerConfig } from "../config/mod.ts";

/** What a handler can do, as probed (never assumed). */
export interface HandlerFeatures {
  /** `rro` mounts: the runtime knows the option and the kernel has mount_setattr. */
  recursiveReadOnlyMounts: boolean;
  /** Pods with `userns_options` mode POD can run (sauropod's part included). */
  userNamespaces: boolean;
  /** The kernel can idmap a tmpfs (volumes such as Secrets and projected tokens). */
  idmapTmpfs?: boolean;
}

/** How the features were learnt, for `sauropod check` and Status's verbose info. */
export interface HandlerProbe {
  /** The runtime's version line, or why it could not be run. */
  version: string;
  /** The runtime can be run at all. */
  usable: boolean;
  /** `features` (the runtime's `features` JSON), `version-table`, or `none`. */
  source: "features" | "version-table" | "none";
  /** One line per input: what the runtime said, each kernel probe's result. */
  notes: string[];
}

/** One configured handler, resolved and probed. */
export interface RuntimeHandlerInfo extends HandlerConfig {
  name: string;
  features: HandlerFeatures;
  probe: HandlerProbe;
}

/** The handlers of the agent, by name, and the default one's name. */
export class HandlerSet {
  readonly #byName: ReadonlyMap<string, RuntimeHandlerInfo>;
  readonly defaultName: string;

  constructor(handlers: Iterable<RuntimeHandlerInfo>, defaultName: string) {
    this.#byName = new Map([...handlers].map((h) => [h.name, h]));
    if (!this.#byName.has(defaultName)) {
      throw new Error(`default runtime handler "${defaultName}" is not among the handlers`);
    }
    this.defaultName = defaultName;
  }

  /** Every handler, in configuration order. */
  all(): RuntimeHandlerInfo[] {
    return [...this.#byName.values()];
  }

  /** The default handler. */
  get default(): RuntimeHandlerInfo {
    return this.#byName.get(this.defaultName)!;
  }

  /** The handler a RunPodSandbox names ("" = the default), or NOT_FOUND naming it. */
  select(name: string): RuntimeHandlerInfo {
    if (name === "") return this.default;
    const h = this.#byName.get(name);
    if (!h) {
      throw notFound(
        `runtime_handler "${name}" is not configured (sauropod serves ${
          this.all().map((x) => `"${x.name}"`).join(", ")
        }, and "" for "${this.defaultName}")`,
      );
    }
    return h;
  }

  /**
   * The handler recorded on a pod or container; records from before handlers existed
   * (none recorded), or of a handler since removed from the config, fall back to the
   * default so that they can still be stopped and removed.
   */
  recorded(name: string | undefined): RuntimeHandlerInfo {
    return (name !== undefined ? this.#byName.get(name) : undefined) ?? this.default;
  }
}
