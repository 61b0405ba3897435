/**
 * Names shared by this folder's unit tests: the fixture trees under `testdata/` and the
 * ids they use (generated to match the kernel documentation's file formats).
 *
 * @module
 */

/** Absolute path of `cgroups/testdata`. */
export const TESTDATA = new URL("./testdata", import.meta.url).pathname;

/** The pod uid of every fixture tree. */
export const POD_UID = "0b7f0c8e-3f7a-4d8e-9a51-6c2d1e4f5a6b";
/** The container id of every fixture tree. */
export const CTR = "3f9a1c2e4b5d6f708192a3b4c5d6e7f8".repeat(2);
/** A container whose cgroup files are partly missing and partly garbage. */
export const BROKEN = "b0".repeat(32);
/** The cgroupfs parent of the v1 and hybrid trees. */
export const CGROUPFS_PARENT = `/kubepods/burstable/pod${POD_UID}`;
/** The systemd parent of the v2 tree (the kubelet escapes '-' in the uid as '_'). */
export const SYSTEMD_PARENT = `kubepods-burstable-pod${POD_UID.replaceAll("-", "_")}.slice`;

/** Reads a fixture file. */
export function fixture(rel: string): string {
  return Deno.readTextFileSync(`${TESTDATA}/${rel}`);
}
