/**
 * Identifiers and name keys shared by pods and containers.
 *
 * @module
 */

/** A new random id: 64 lowercase hex digits, like containerd's. */
export function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Is `s` shaped like one of our ids (or a prefix of one, when `prefix`)? */
export function looksLikeId(s: string, prefix = false): boolean {
  return prefix ? /^[0-9a-f]{1,64}$/.test(s) : /^[0-9a-f]{64}$/.test(s);
}

/** The reservation key of a pod: the CRI requires name, namespace, uid and attempt unique. */
export function sandboxNameKey(
  m: { name: string; namespace: string; uid: string; attempt: number },
): string {
  return [m.name, m.namespace, m.uid, String(m.attempt)].join("_");
}

/** The reservation key of a container within its pod (containerd's makeContainerName). */
export function containerNameKey(
  c: { name: string; attempt: number },
  s: { name: string; namespace: string; uid: string; attempt?: number },
): string {
  return [c.name, s.name, s.namespace, s.uid, String(c.attempt)].join("_");
}

/** Resolves `id` or a unique prefix of it among `ids`; undefined when none or ambiguous. */
export function resolvePrefix(id: string, ids: Iterable<string>): string | "ambiguous" | undefined {
  let found: string | undefined;
  for (const candidate of ids) {
    if (candidate === id) return candidate;
    if (candidate.startsWith(id)) {
      if (found) return "ambiguous";
      found = candidate;
    }
  }
  return found;
}
