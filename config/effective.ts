/**
 * The effective configuration as `sauropod check` shows it: every key with its value and,
 * for each key a file or flag set (every key off its built-in default, and one set to its
 * default explicitly), the file (or "flags") it came from.
 * Credentials are never printed.
 *
 * @module
 */
import { type LoadedConfig, schemaKeys, valueAt } from "./mod.ts";
import { isTable, SCHEMA, type TableSpec } from "./schema.ts";

/** One key of the effective configuration. */
export interface EffectiveEntry {
  /** Dotted key as in the file (`image.mirrors`). */
  readonly key: string;
  /** Its value, credentials redacted. */
  readonly value: unknown;
  /** The file (or "flags") that set it; absent when nothing did (its built-in default). */
  readonly source?: string;
}

/** Every key of `loaded`'s config, in schema order. */
export function effectiveConfig(loaded: LoadedConfig): EffectiveEntry[] {
  return schemaKeys().map((key) => {
    const raw = valueAt(loaded.config, key);
    const value = key === "image.auths" ? redact(raw as Record<string, object>) : raw;
    // Set by a file or a flag (runtime.root left empty follows state: not set).
    const source = sourceOf(loaded, key);
    if (source === undefined && JSON.stringify(raw) !== JSON.stringify(defaultOf(key))) {
      return { key, value, source: "derived (runtime.root: <state>/runc)" };
    }
    return source === undefined ? { key, value } : { key, value, source };
  });
}

/**
 * The file that set `key` (for a per-host table, every file that set one of its hosts);
 * undefined when none did.
 */
function sourceOf(loaded: LoadedConfig, key: string): string | undefined {
  const direct = loaded.sources.get(key);
  if (direct) return direct;
  const files = [
    ...new Set(
      [...loaded.sources].filter(([k]) => k.startsWith(`${key}.`)).map(([, file]) => file),
    ),
  ].sort((a, b) => order(loaded, a) - order(loaded, b));
  return files.length ? files.join(", ") : undefined;
}

/** Files in the order applied; flags last. */
function order(loaded: LoadedConfig, file: string): number {
  const i = loaded.files.indexOf(file);
  return i < 0 ? loaded.files.length : i;
}

function defaultOf(key: string): unknown {
  let spec: TableSpec = SCHEMA;
  const parts = key.split(".");
  for (const p of parts.slice(0, -1)) spec = spec.fields[p] as TableSpec;
  const field = spec.fields[parts.at(-1)!]!;
  if (isTable(field)) return undefined;
  // The schema's defaults are in file terms: a map of hosts compares as is.
  return field.default;
}

function redact(auths: Record<string, object>): Record<string, Record<string, string>> {
  return Object.fromEntries(
    Object.entries(auths).map((
      [host, a],
    ) => [host, Object.fromEntries(Object.keys(a).map((k) => [k, "<redacted>"]))]),
  );
}

/** `entries` as lines of text: `key = value` and, off the default, `  # from <file>`. */
export function formatEffective(entries: readonly EffectiveEntry[]): string[] {
  return entries.map((e) =>
    `${e.key} = ${JSON.stringify(e.value)}${e.source ? `   # from ${e.source}` : ""}`
  );
}
