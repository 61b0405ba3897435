/**
 * Reading cgroup interface files: small, synchronous reads (kernfs answers from memory;
 * an async read would cost a worker-thread round trip per file), with the two ways a
 * cgroup disappears under a reader mapped to not-found.
 *
 * @module
 */
import { notFound, wrap } from "../errors/mod.ts";
// Deno grants cgroupfs only to --allow-all; the agent and shims read it through libc.
import * as kernfs from "../ffi/kernfs.ts";

/** True for the error a read of a removed cgroup's file gives: ENOENT, or ENODEV. */
export function isGone(err: unknown): boolean {
  if (err instanceof Deno.errors.NotFound) return true;
  return err instanceof Error && /\(os error 19\)|ENODEV/.test(err.message);
}

/** Reads a cgroup file; not-found (naming it) when it or its cgroup is gone. */
export function readCgroupFile(path: string): string {
  try {
    return kernfs.readTextFileSync(path);
  } catch (err) {
    if (isGone(err)) throw notFound(`cgroup file ${path} not found`, { cause: err });
    throw wrap(err, `cannot read cgroup file ${path}`);
  }
}

/**
 * Like {@link readCgroupFile} for files the kernel may not provide (swap accounting,
 * PSI): undefined when the file is absent from an existing cgroup, not-found when the
 * cgroup itself is gone.
 */
export function readOptionalCgroupFile(path: string): string | undefined {
  try {
    return kernfs.readTextFileSync(path);
  } catch (err) {
    if (!isGone(err)) throw wrap(err, `cannot read cgroup file ${path}`);
  }
  const dir = path.slice(0, path.lastIndexOf("/"));
  try {
    kernfs.statSync(dir);
  } catch (err) {
    if (isGone(err)) throw notFound(`cgroup ${dir} not found`, { cause: err });
    throw wrap(err, `cannot stat cgroup ${dir}`);
  }
  return undefined;
}
