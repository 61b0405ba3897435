/**
 * CDI device names (the CDI library's `pkg/parser`): a fully qualified name is
 * `vendor/class=name`, e.g. `vendor.com/gpu=0`.
 *
 * @module
 */

const VENDOR_OR_CLASS = /^[A-Za-z]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const NAME = /^[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?$/;

/** A parsed `vendor/class=name`. */
export interface QualifiedName {
  /** `vendor/class`. */
  kind: string;
  name: string;
}

/** Why `kind` (`vendor/class`) is invalid, or undefined when it is valid. */
export function checkKind(kind: string): string | undefined {
  const slash = kind.indexOf("/");
  if (slash < 0) return `"${kind}" is not vendor/class`;
  const vendor = kind.slice(0, slash);
  const cls = kind.slice(slash + 1);
  if (!VENDOR_OR_CLASS.test(vendor)) return `invalid vendor "${vendor}" in "${kind}"`;
  if (!VENDOR_OR_CLASS.test(cls)) return `invalid class "${cls}" in "${kind}"`;
  return undefined;
}

/** Why `name` (a device name inside a spec) is invalid, or undefined. */
export function checkDeviceName(name: string): string | undefined {
  return NAME.test(name) ? undefined : `invalid device name "${name}"`;
}

/**
 * Parses a fully qualified device name; returns the reason as a string when it is not one
 * (the caller names the field it came from).
 */
export function parseQualifiedName(s: string): QualifiedName | string {
  const eq = s.indexOf("=");
  if (eq < 0) return `"${s}" is not a fully qualified CDI device name (vendor/class=name)`;
  const kind = s.slice(0, eq);
  const name = s.slice(eq + 1);
  const k = checkKind(kind);
  if (k) return `"${s}" is not a fully qualified CDI device name: ${k}`;
  const n = checkDeviceName(name);
  if (n) return `"${s}" is not a fully qualified CDI device name: ${n}`;
  return { kind, name };
}
