/**
 * One finding of `sauropod check`: apart from `check.ts` so that the checks it runs
 * (`check_cgroups.ts`, `check_permissions.ts`, `check_lsm.ts`) need not import their caller.
 *
 * @module
 */

/** One finding. */
export interface Finding {
  level: "ok" | "warn" | "fail";
  check: string;
  message: string;
  fix?: string;
}
