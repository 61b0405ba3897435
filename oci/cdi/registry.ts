/**
 * The CDI registry: the spec files of the configured directories, and the resolution of
 * requested device names against them (the CDI library's `pkg/cdi/cache.go`).
 *
 * - A directory's index is its priority: the same device in a later directory replaces an
 *   earlier one (`/var/run/cdi` over `/etc/cdi`).
 * - The same device twice at one priority (two files of one directory) is ambiguous: a
 *   request for it fails naming both files.
 * - A file that failed to load fails every request for its kind (or every request, when its
 *   kind cannot be read): the device may be defined there, and starting the container without
 *   it would drop the device silently. Requests for other vendors' devices go on.
 * - `vendor/class=all`: the device named `all` when a spec defines one (nvidia-ctk writes it);
 *   otherwise every device of that kind. The CDI library gives `all` no meaning of its own.
 *
 * @module
 */
import { failedPrecondition, invalidArgument } from "../../errors/mod.ts";
import { parseQualifiedName } from "./names.ts";
import type { CdiDevice, CdiSpec } from "./spec.ts";

/** A spec file that could not be loaded. */
export interface BrokenSpec {
  file: string;
  /** The `kind` it declares, when that much could be read. */
  kind?: string | undefined;
  error: string;
}

/** What the configured directories hold, in priority order (lowest first). */
export interface CdiRegistry {
  /** The directories, for messages. */
  dirs: readonly string[];
  /** Loaded specs with the index of their directory. */
  specs: { spec: CdiSpec; priority: number }[];
  broken: BrokenSpec[];
}

/** A device a container gets. */
export interface ResolvedDevice {
  /** `vendor/class=name`. */
  qualified: string;
  spec: CdiSpec;
  device: CdiDevice;
}

/** A device name to resolve, and the request field it came from (for messages). */
export interface CdiRequest {
  name: string;
  field: string;
}

/**
 * Resolves `requests` (in order, duplicates dropped) against the registry. A malformed name
 * is INVALID_ARGUMENT naming its field; an unknown or ambiguous device, or a broken spec
 * file of its kind, is FAILED_PRECONDITION naming the device and the files.
 */
export function resolveCdiDevices(
  registry: CdiRegistry,
  requests: readonly CdiRequest[],
): ResolvedDevice[] {
  const byKind = new Map<string, Map<string, { spec: CdiSpec; priority: number }[]>>();
  for (const entry of registry.specs) {
    let names = byKind.get(entry.spec.kind);
    if (!names) byKind.set(entry.spec.kind, names = new Map());
    for (const d of entry.spec.devices) {
      const list = names.get(d.name) ?? [];
      list.push(entry);
      names.set(d.name, list);
    }
  }
  const pick = (kind: string, name: string, field: string): ResolvedDevice | undefined => {
    const entries = byKind.get(kind)?.get(name);
    if (!entries || entries.length === 0) return undefined;
    const top = Math.max(...entries.map((e) => e.priority));
    const winners = entries.filter((e) => e.priority === top);
    const qualified = `${kind}=${name}`;
    if (winners.length > 1) {
      throw failedPrecondition(
        `${field}: CDI device "${qualified}" is ambiguous: defined by ${
          winners.map((w) => `"${w.spec.file}"`).join(" and ")
        }`,
      );
    }
    const spec = winners[0]!.spec;
    return { qualified, spec, device: spec.devices.find((d) => d.name === name)! };
  };

  const out: ResolvedDevice[] = [];
  const seen = new Set<string>();
  for (const req of requests) {
    const parsed = parseQualifiedName(req.name);
    if (typeof parsed === "string") throw invalidArgument(`${req.field}: ${parsed}`);
    const broken = registry.broken.filter((b) => b.kind === undefined || b.kind === parsed.kind);
    if (broken.length > 0) {
      throw failedPrecondition(
        `${req.field}: CDI device "${req.name}" cannot be resolved: ${
          broken.map((b) => b.error).join("; ")
        }`,
      );
    }
    let found: ResolvedDevice[];
    const one = pick(parsed.kind, parsed.name, req.field);
    if (one) {
      found = [one];
    } else if (parsed.name === "all" && byKind.has(parsed.kind)) {
      found = [...byKind.get(parsed.kind)!.keys()].sort().map((n) =>
        pick(parsed.kind, n, req.field)!
      );
    } else {
      throw failedPrecondition(
        `${req.field}: CDI device "${req.name}" is not defined by any spec in ${
          registry.dirs.join(", ") || "(no CDI spec directories configured)"
        }`,
      );
    }
    for (const d of found) {
      if (seen.has(d.qualified)) continue;
      seen.add(d.qualified);
      out.push(d);
    }
  }
  return out;
}
