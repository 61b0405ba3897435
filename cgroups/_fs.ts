/**
 * Reading cgroup interface files: small, synchronous reads (kernfs answers from memory;
 * an async read would cost a worker-thread round trip per file), with the two ways a
 * cgroup disappears under a reader mapped to not-found.
 *
 * @module
 */
import { notFound, wrap } from "../errors/mod.ts";

/** True for the error a read of a removed cgroup's file gives: ENOENT, or ENODEV. */
export function isGone(err: unknown): boolean {
  if (err instanceof Deno.errors.NotFound) return true;
  return err instanceof Error && /\(os error 19\)|ENODEV/.test(err.message);
}

/** Reads a cgroup file; not-found (naming it) when it or its cgroup is gone. */
export function readCgroupFile(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (isGone(err)) throw notFound(`cgroup file ${path} not found`, { cause: err });
    throw wrap(err, `cannot read cgroup file ${path}`);
  }
}

/** Like {@link readCgroupFile}, but undefined when the file is absent (optional files). */
export function readOptionalCgroupFile(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (err) {
    if (isGone(err)) return undefined;
    throw wrap(err, `cannot read cgroup file ${path}`);
  }
}
