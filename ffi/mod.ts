/**
 * The only place that calls `Deno.dlopen`: typed wrappers over libc for what Deno lacks
 * (subreaper, reaping, ptys, eventfd, namespaces…). Every wrapper checks errno and names
 * the syscall in its error; no raw pointer leaves this folder.
 *
 * Modules: see the files of this folder; each opens only the symbols it uses.
 *
 * @module
 */
export { Errno, SyscallError } from "./_libc.ts";
