/**
 * RunPodSandbox's `log_directory` must lie beneath one of the directories pods may log
 * under (`runtime.pod_log_roots`): the agent's Deno permissions cover those and nothing else,
 * so a pod logging elsewhere would fail later, half-created, with Deno's advice to rerun with
 * `--allow-write`. Checked before anything of the pod exists.
 *
 * The test is lexical (no `.`, `..` or empty components, then a prefix of a root), and the
 * part of the path that already exists is resolved beneath its root on descriptors
 * (`openat2` RESOLVE_BENEATH | NO_SYMLINKS | NO_XDEV): a symlink planted under a root cannot
 * point the pod's logs elsewhere.
 *
 * @module
 */
import { beneathAny, plainAbsolute } from "../../config/mod.ts";
import { invalidArgument } from "../../errors/mod.ts";
import { Errno, SyscallError } from "../../ffi/mod.ts";
import { O, openBeneath, openPath } from "../../ffi/beneath.ts";

/** The key an operator changes to allow a log directory. */
export const LOG_ROOTS_KEY = "runtime.pod_log_roots";

/** Throws INVALID_ARGUMENT unless `dir` (CRI `log_directory`) may be logged under. */
export function checkLogDirectory(dir: string, roots: readonly string[], field: string): void {
  const plain = plainAbsolute(dir);
  if (plain === undefined) {
    throw invalidArgument(
      `${field} ${JSON.stringify(dir)} must be an absolute path without empty, . or .. components`,
    );
  }
  const root = roots.filter((r) => beneathAny(plain, [r])).sort((a, b) => b.length - a.length)[0];
  if (root === undefined) {
    throw invalidArgument(
      `${field} ${JSON.stringify(dir)} is outside the directories pods may log under ` +
        `(${LOG_ROOTS_KEY} = ${JSON.stringify(roots)} in the agent's config): add a directory ` +
        `that holds it to ${LOG_ROOTS_KEY} and restart the agent, or log under one of them`,
    );
  }
  const rest = plain === root ? "" : plain.slice(root === "/" ? 1 : root.length + 1);
  let base;
  try {
    base = openPath(root, O.PATH | O.DIRECTORY);
  } catch (err) {
    if (err instanceof SyscallError && err.errno === Errno.ENOENT) return; // made on first use
    throw err;
  }
  try {
    openBeneath(base, rest, O.PATH | O.DIRECTORY).close();
  } catch (err) {
    if (!(err instanceof SyscallError)) throw err;
    // Not there yet: the shim makes it, beneath the root, with the same resolution.
    if (err.errno === Errno.ENOENT) return;
    const why = err.errno === Errno.ELOOP
      ? "goes through a symlink"
      : err.errno === Errno.EXDEV
      ? "crosses a mount point"
      : err.errno === Errno.ENOTDIR
      ? "names something that is not a directory"
      : err.message;
    throw invalidArgument(
      `${field} ${JSON.stringify(dir)} ${why} beneath ${root} (${LOG_ROOTS_KEY})`,
    );
  } finally {
    base.close();
  }
}
