/**
 * cgroup v1 and v2 behind one interface: layout detection, parsers of the kernel's
 * interface files, and OOM-kill watching.
 *
 * The shim should import `./oom.ts` directly: it is kept free of the stats code.
 *
 * @module
 */
export * from "./layout.ts";
export * from "./parse.ts";
export { CgroupOomWatcher, type OomWatcher, watchOom, type WatchOomOptions } from "./oom.ts";
