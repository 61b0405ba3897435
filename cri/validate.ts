/**
 * Request validation shared by the CRI handlers. A bad field is INVALID_ARGUMENT with the
 * field named (`config.metadata.name is empty`), before anything changes; values quoted in
 * messages are truncated and escaped so a hostile 10 000-character id stays readable.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";

/** `s` quoted for an error message: JSON-escaped, cut at 80 characters. */
export function quote(s: string): string {
  const cut = s.length > 80 ? `${s.slice(0, 80)}…(${s.length} chars)` : s;
  return JSON.stringify(cut);
}

/** Throws unless `v` is present (a sub-message the CRI requires). */
export function required<T>(v: T | undefined, field: string): T {
  if (v === undefined || v === null) throw invalidArgument(`${field} is required`);
  return v;
}

/** Throws unless `s` is a non-empty string without NUL or control characters. */
export function nonEmpty(s: string, field: string, max = 253): string {
  if (s === "") throw invalidArgument(`${field} is empty`);
  if (s.length > max) throw invalidArgument(`${field} is longer than ${max} characters`);
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(s)) {
    throw invalidArgument(`${field} ${quote(s)} contains control characters`);
  }
  return s;
}

/**
 * A metadata name (pod, namespace, container): non-empty, at most 253 characters, printable,
 * no `/` and not `.` or `..` — Kubernetes names are DNS subdomains, so nothing legitimate is
 * refused, and nothing hostile can ever reach a path.
 */
export function name(s: string, field: string): string {
  nonEmpty(s, field, 253);
  if (s.includes("/") || s === "." || s === "..") {
    throw invalidArgument(`${field} ${quote(s)} must not contain "/" or be "." or ".."`);
  }
  return s;
}

const DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_LABEL}(\\.${DNS1123_LABEL})*$`);
const DNS1123_LABEL_RE = new RegExp(`^${DNS1123_LABEL}$`);
const POD_UID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/*
 * A pod's name, namespace and uid go to CNI plugins in `CNI_ARGS` (`K8S_POD_NAME=…;…`), where
 * ';' and '=' are separators: a name like `x;IP=10.88.0.5` would hand host-local an address.
 * The kubelet only ever sends Kubernetes names (DNS-1123), so those rules refuse nothing a
 * kubelet sends and leave nothing a CNI plugin could misread; they are checked before
 * anything is made.
 */

/** A pod name: a DNS-1123 subdomain, as Kubernetes object names are. */
export function podName(s: string, field: string): string {
  nonEmpty(s, field, 253);
  if (!DNS1123_SUBDOMAIN_RE.test(s)) {
    throw invalidArgument(
      `${field} ${quote(s)} must be a DNS-1123 subdomain (lower-case letters, digits, '-' and ` +
        `'.', starting and ending with a letter or digit), as Kubernetes names are: it is ` +
        `passed to CNI plugins in CNI_ARGS, where ';' and '=' are separators`,
    );
  }
  return s;
}

/** A pod namespace: a DNS-1123 label, as Kubernetes namespaces are. */
export function podNamespace(s: string, field: string): string {
  nonEmpty(s, field, 63);
  if (!DNS1123_LABEL_RE.test(s)) {
    throw invalidArgument(
      `${field} ${quote(s)} must be a DNS-1123 label (lower-case letters, digits and '-', ` +
        `starting and ending with a letter or digit), as Kubernetes namespaces are: it is ` +
        `passed to CNI plugins in CNI_ARGS, where ';' and '=' are separators`,
    );
  }
  return s;
}

/** A pod uid: Kubernetes sends a UUID (a hash for static pods); letters, digits, '-', '_', '.'. */
export function podUid(s: string, field: string): string {
  nonEmpty(s, field, 128);
  if (!POD_UID_RE.test(s)) {
    throw invalidArgument(
      `${field} ${quote(s)} must be letters, digits, '-', '_' and '.' (a UUID, as the kubelet ` +
        `sends): it is passed to CNI plugins in CNI_ARGS, where ';' and '=' are separators`,
    );
  }
  return s;
}

/** Throws when `s` contains NUL (it cannot reach the kernel) — args, env, paths. */
export function noNul(s: string, field: string): string {
  if (s.includes("\0")) throw invalidArgument(`${field} ${quote(s)} contains a NUL byte`);
  return s;
}

/** An id argument: non-empty, sane length, no separators (lookups do the rest). */
export function id(s: string, field: string): string {
  if (s === "") throw invalidArgument(`${field} is empty`);
  if (s.length > 128 || /[^A-Za-z0-9_.-]/.test(s)) {
    throw invalidArgument(`${field} ${quote(s)} is not a valid id`);
  }
  return s;
}

/** An absolute path without NUL and without `..` components. */
export function absolutePath(p: string, field: string): string {
  noNul(p, field);
  if (!p.startsWith("/")) throw invalidArgument(`${field} ${quote(p)} must be an absolute path`);
  if (p.split("/").includes("..")) {
    throw invalidArgument(`${field} ${quote(p)} must not contain ".."`);
  }
  if (p.length > 4096) throw invalidArgument(`${field} is longer than 4096 characters`);
  return p;
}

/** A relative path that stays below its base: no NUL, not absolute, no `..`. */
export function relativePath(p: string, field: string): string {
  noNul(p, field);
  if (p.startsWith("/")) throw invalidArgument(`${field} ${quote(p)} must be a relative path`);
  if (p.split("/").includes("..")) {
    throw invalidArgument(`${field} ${quote(p)} must not contain ".."`);
  }
  if (p.length > 4096) throw invalidArgument(`${field} is longer than 4096 characters`);
  return p;
}

/** A hostname (RFC 1123 labels, at most 64 characters as the kernel allows). */
export function hostname(h: string, field: string): string {
  if (h === "") return h;
  if (
    h.length > 64 ||
    !/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*$/.test(h)
  ) {
    throw invalidArgument(`${field} ${quote(h)} is not a valid hostname`);
  }
  return h;
}

/** An integer within [min, max]. */
export function inRange(n: number | bigint, min: number, max: number, field: string): number {
  const v = Number(n);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw invalidArgument(`${field} ${String(n)} is out of range [${min}, ${max}]`);
  }
  return v;
}

/** Every key and value of a string map: keys non-empty, no NUL anywhere. */
export function stringMap(m: Record<string, string>, field: string): void {
  for (const [k, v] of Object.entries(m)) {
    if (k === "") throw invalidArgument(`${field} has an empty key`);
    noNul(k, `${field} key`);
    noNul(v, `${field}[${quote(k)}]`);
  }
}

/**
 * Throws unless `v` is a value of the proto enum `e` (whose generated `UNRECOGNIZED` is no
 * value a client may send): a filter on a state that does not exist would silently match
 * nothing.
 */
export function enumValue(v: number, e: Record<string, string | number>, field: string): number {
  const name = e[v];
  if (typeof name !== "string" || name === "UNRECOGNIZED") {
    const values = Object.keys(e).filter((k) => isNaN(Number(k)) && k !== "UNRECOGNIZED");
    throw invalidArgument(`${field}: ${v} is not one of ${values.join(", ")}`);
  }
  return v;
}
