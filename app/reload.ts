/**
 * SIGHUP: read the configuration again (main file, drop-ins, the same flags) and apply what
 * can change without a restart: registry mirrors, credentials, insecure registries and the
 * log level (containerd hot-reloads its registry hosts the same way). Any other key that
 * changed keeps its running value, and the log line that says so names each key. A file
 * that does not load keeps the whole running configuration; the error names the file and
 * key. The agent keeps serving throughout.
 *
 * @module
 */
import {
  type Config,
  loadConfigWithSources,
  type LoadOptions,
  schemaKeys,
  valueAt,
} from "../config/mod.ts";
import { messageOf } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";

/**
 * The keys a reload applies. The `prom` branch's metrics address joins them here, with its
 * applier in {@link Appliers}.
 */
export const RELOADABLE = [
  "image.mirrors",
  "image.auths",
  "image.insecure_registries",
  "log.level",
] as const;

/** A reloadable key. */
export type ReloadableKey = typeof RELOADABLE[number];

/** How the running services take a new value of each reloadable key. */
export type Appliers = Record<ReloadableKey, (next: Config) => void>;

/** What a reload would do: keys it applies, keys that need a restart. */
export interface ReloadPlan {
  readonly apply: ReloadableKey[];
  readonly restart: string[];
}

/** The keys whose values differ between `current` and `next`, split by what a reload does. */
export function planReload(current: Config, next: Config): ReloadPlan {
  const apply: ReloadableKey[] = [];
  const restart: string[] = [];
  for (const key of schemaKeys()) {
    if (JSON.stringify(valueAt(current, key)) === JSON.stringify(valueAt(next, key))) continue;
    if ((RELOADABLE as readonly string[]).includes(key)) apply.push(key as ReloadableKey);
    else restart.push(key);
  }
  return { apply, restart };
}

/** What one reload did. */
export type ReloadOutcome =
  | { readonly kind: "refused"; readonly error: string }
  | { readonly kind: "reloaded"; readonly plan: ReloadPlan };

/** Reloads on demand, one at a time, into the running `config` (changed in place). */
export class Reloader {
  readonly #load: LoadOptions;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #appliers: Appliers;
  #queue: Promise<unknown> = Promise.resolve();

  /** `config` is the running configuration, which a reload changes in place. */
  constructor(load: LoadOptions, config: Config, log: Logger, appliers: Appliers) {
    this.#load = load;
    this.#config = config;
    this.#log = log;
    this.#appliers = appliers;
  }

  /** Reads the configuration again and applies what it can (after any reload under way). */
  reload(): Promise<ReloadOutcome> {
    const run = this.#queue.then(() => this.#reload());
    this.#queue = run.catch(() => {});
    return run;
  }

  async #reload(): Promise<ReloadOutcome> {
    let next: Config;
    let files: readonly string[];
    try {
      ({ config: next, files } = await loadConfigWithSources(this.#load));
    } catch (err) {
      const error = messageOf(err);
      this.#log.error("reload refused: the configuration does not load; keeping the running one", {
        error,
      });
      return { kind: "refused", error };
    }
    const plan = planReload(this.#config, next);
    if (plan.restart.length) {
      this.#log.warn(
        `reload: ${plan.restart.join(", ")} changed but ${
          plan.restart.length === 1 ? "needs" : "need"
        } a restart; keeping the running ${plan.restart.length === 1 ? "value" : "values"}`,
        { keys: plan.restart.join(",") },
      );
    }
    for (const key of plan.apply) {
      this.#appliers[key](next);
      setAt(this.#config, key, valueAt(next, key));
    }
    this.#log.info(
      plan.apply.length ? "configuration reloaded" : "configuration reloaded: nothing to apply",
      { applied: plan.apply.join(","), files: files.join(",") },
    );
    return { kind: "reloaded", plan };
  }
}

function setAt(config: Config, key: string, value: unknown): void {
  const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const parts = key.split(".").map(camel);
  let cur = config as unknown as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) cur = cur[p] as Record<string, unknown>;
  cur[parts.at(-1)!] = structuredClone(value);
}
