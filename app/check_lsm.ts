/**
 * The security-module part of `sauropod check`: whether AppArmor confines containers here
 * (and can: the default profile needs `apparmor_parser`), and what SELinux options do.
 *
 * @module
 */
import { type AppArmorFacts, detectAppArmor, detectSelinux } from "../lsm/mod.ts";
import type { Finding } from "./finding.ts";

/** Findings for the node's AppArmor and SELinux. */
export async function checkLsm(): Promise<Finding[]> {
  return lsmFindings(await detectAppArmor(), await detectSelinux());
}

/** The findings for given facts (pure, for tests). */
export function lsmFindings(apparmor: AppArmorFacts, selinux: boolean): Finding[] {
  const out: Finding[] = [];
  if (!apparmor.enabled) {
    out.push({
      level: "ok",
      check: "apparmor",
      message: `AppArmor is not enabled (${apparmor.reason}): containers asking for ` +
        "RuntimeDefault run unconfined, and Localhost profiles are refused",
    });
  } else if (!apparmor.parser) {
    out.push({
      level: "fail",
      check: "apparmor",
      message: "AppArmor is enabled but apparmor_parser is missing: sauropod cannot load its " +
        "default profile, so every container without an AppArmor profile of its own fails",
      fix: "apt-get install -y apparmor",
    });
  } else {
    out.push({
      level: "ok",
      check: "apparmor",
      message: `AppArmor is enabled: containers run under sauropod's default profile ` +
        `(loaded with ${apparmor.parser}) unless they ask for another or are privileged`,
    });
  }
  out.push(
    selinux
      ? {
        level: "warn",
        check: "selinux",
        message: "SELinux is enabled: sauropod applies no SELinux labels, so pods with " +
          "SELinux options or volumes to relabel are refused",
      }
      : {
        level: "ok",
        check: "selinux",
        message: "SELinux is not enabled: SELinux options are ignored, as containerd and " +
          "CRI-O ignore them",
      },
  );
  return out;
}
