/**
 * The facts of an image config that containers and the CRI use, taken once when the image
 * is pulled (from the config `_manifest.ts` parsed and checked) and stored with the image,
 * so listing, resolving and removing images never parse configs again.
 *
 * @module
 */

/** What the container spec builder needs from an image config. */
export interface ImageConfigSummary {
  /** `USER`: a name, uid, `uid:gid` or `name:group`; empty for root. */
  user: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  /** `STOPSIGNAL`, e.g. `SIGQUIT`; empty when unset. */
  stopSignal: string;
  /** `VOLUME` paths. */
  volumes: string[];
  labels: Record<string, string>;
  /** `EXPOSE` entries, e.g. `80/tcp`. */
  exposedPorts: string[];
}

/** The summary and the config's `created` time (ns since the epoch), when it has one. */
export interface ConfigFacts {
  summary: ImageConfigSummary;
  createdAtNs?: bigint;
  /**
   * The checkpoint annotations of the image's manifest and index (a checkpoint image's
   * marks: CRI-O's on the manifest, checkpointctl's `org.criu.checkpoint.*` on both).
   */
  checkpoint?: Record<string, string>;
}

/** Annotation keys that mark a checkpoint image, by who writes them. */
export const CHECKPOINT_ANNOTATIONS = [
  "io.kubernetes.cri-o.annotations.checkpoint.name",
  "org.criu.checkpoint.container.name",
  "checkpointctl.annotation.checkpoint.name",
] as const;

/**
 * The checkpoint annotations among `sources` (index first, manifest last wins): keys under
 * the CRI-O, checkpointctl and CRIU checkpoint prefixes, at most 64, values ≤ 4096 bytes.
 */
export function checkpointAnnotations(
  ...sources: (Record<string, string> | undefined)[]
): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  let n = 0;
  for (const src of sources) {
    for (const [k, v] of Object.entries(src ?? {})) {
      if (
        typeof v !== "string" || v.length > 4096 ||
        !/^(io\.kubernetes\.cri-o\.annotations\.|org\.criu\.checkpoint\.|checkpointctl\.annotation\.)/
          .test(k)
      ) continue;
      if (!(k in out) && ++n > 64) continue;
      out[k] = v;
    }
  }
  return n ? out : undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function keys(v: unknown): string[] {
  return v && typeof v === "object" && !Array.isArray(v) ? Object.keys(v).sort() : [];
}

function record(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Record<string, unknown> : {};
}

/**
 * The facts of a config document: the parsed config of a pull, or (when an older store is
 * migrated) a stored config's JSON parsed once. Tolerates missing and mistyped fields.
 */
export function summariseConfig(doc: unknown): ConfigFacts {
  const d = record(doc);
  const c = record(d.config);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(record(c.Labels))) if (typeof v === "string") labels[k] = v;
  const summary: ImageConfigSummary = {
    user: typeof c.User === "string" ? c.User : "",
    env: strings(c.Env),
    entrypoint: strings(c.Entrypoint),
    cmd: strings(c.Cmd),
    workingDir: typeof c.WorkingDir === "string" ? c.WorkingDir : "",
    stopSignal: typeof c.StopSignal === "string" ? c.StopSignal : "",
    volumes: keys(c.Volumes),
    labels,
    exposedPorts: keys(c.ExposedPorts),
  };
  const ms = typeof d.created === "string" ? Date.parse(d.created) : NaN;
  if (Number.isFinite(ms)) return { summary, createdAtNs: BigInt(ms) * 1_000_000n };
  return { summary };
}

/** The stored form of {@link ConfigFacts} (JSON; bigint as a decimal string). */
export function encodeFacts(f: ConfigFacts): string {
  return JSON.stringify({
    summary: f.summary,
    ...(f.createdAtNs !== undefined ? { createdAtNs: f.createdAtNs.toString() } : {}),
    ...(f.checkpoint ? { checkpoint: f.checkpoint } : {}),
  });
}

/** Reads what {@link encodeFacts} wrote. */
export function decodeFacts(text: string): ConfigFacts {
  const v = JSON.parse(text) as {
    summary: ImageConfigSummary;
    createdAtNs?: string;
    checkpoint?: Record<string, string>;
  };
  const f: ConfigFacts = { summary: v.summary };
  if (v.createdAtNs !== undefined) f.createdAtNs = BigInt(v.createdAtNs);
  if (v.checkpoint) f.checkpoint = v.checkpoint;
  return f;
}
