/**
 * `sauropod check`'s runtime handlers: each handler, its runtime's version, what it
 * supports and why (the same probe the agent runs at start, `handler_probe.ts`).
 *
 * The default handler's runtime must run (a failure); another handler's may be missing (a
 * warning: only its pods fail, with the runtime's own error).
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import type { Finding } from "./finding.ts";
import { probeHandler, probeKernel } from "./handler_probe.ts";

/** One finding per handler, plus one per probe input. */
export async function checkHandlers(config: Config): Promise<Finding[]> {
  const out: Finding[] = [];
  const kernel = await probeKernel(config.root);
  for (const [name, cfg] of Object.entries(config.runtime.handlers)) {
    const h = await probeHandler(name, cfg, kernel);
    const isDefault = name === config.runtime.defaultHandler;
    const supports = [
      `recursive read-only mounts ${h.features.recursiveReadOnlyMounts ? "yes" : "no"}`,
      `user namespaces ${h.features.userNamespaces ? "yes" : "no"}`,
    ].join(", ");
    out.push(
      h.probe.usable
        ? {
          level: "ok",
          check: "handler",
          message: `"${name}"${isDefault ? " (default)" : ""}: ${h.binary}: ${h.probe.version}; ` +
            `root ${h.root}; ${supports} (from ${h.probe.source})`,
        }
        : {
          level: isDefault ? "fail" : "warn",
          check: "handler",
          message: `"${name}"${isDefault ? " (default)" : ""}: ${h.probe.version}`,
          fix: /crun/.test(cfg.binary) ? "apt-get install -y crun" : "apt-get install -y runc",
        },
    );
    for (const n of h.probe.notes) {
      out.push({ level: "ok", check: "handler", message: `  "${name}": ${n}` });
    }
  }
  return out;
}
