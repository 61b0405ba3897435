/**
 * The effective configuration as `sauropod check` shows it: every key with its value and,
 * for each key not at its built-in default, the file (or "flags") it came from.
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
  /** Where it came from when not at its default; absent at the default. */
  readonly source?: string;
}

/** Every key of `loaded`'s config, in schema order. */
export function effectiveConfig(loaded: LoadedConfig): EffectiveEntry[] {
  return schemaKeys().map((key) => {
    const raw = valueAt(loaded.config, key);
    const value = key === "image.auths" ? redact(raw as Record<string, object>) : raw;
    const atDefault = JSON.stringify(raw) === JSON.stringify(defaultOf(key)) ||
      (key === "runtime.root" && raw === `${loaded.config.state}/runc` &&
        !loaded.sources.has(key));
    if (atDefault) return { key, value };
    return { key, value, source: sourceOf(loaded, key) };
  });
}

/** The file that set `key` (for a per-host table, every file that set one of its hosts). */
function sourceOf(loaded: LoadedConfig, key: string): string {
  const direct = loaded.sources.get(key);
  if (direct) return direct;
  const files = [
    ...new Set(
      [...loaded.sources].filter(([k]) => k.startsWith(`${key}.`)).map(([, file]) => file),
    ),
  ].sort((a, b) => order(loaded, a) - order(loaded, b));
  return files.length ? files.join(", ") : "defaults";
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
