/**
 * A pod cgroup the agent owns, for the cgroupfs driver: when the kubelet did not create
 * the pod's `cgroup_parent` (crictl, critest, our tests), the agent creates it so the
 * pod has totals to report, and removes it with the pod. Only the directories this call
 * created are recorded, and only those are ever removed; nothing outside the given path
 * is touched. (With the systemd driver, slices belong to systemd and the kubelet.)
 *
 * @module
 */
import { failedPrecondition, invalidArgument, messageOf, wrap } from "../errors/mod.ts";
// Deno grants cgroupfs only to --allow-all; cgroups are made through libc.
import * as kernfs from "../ffi/kernfs.ts";
import { isGone } from "./_fs.ts";
import { cgroupDir, type CgroupLayout, type CgroupMount } from "./layout.ts";

/** What {@link createPodCgroup} made; persist it to remove exactly that later. */
export interface OwnedCgroup {
  /** The pod cgroup's path inside the hierarchies. */
  readonly path: string;
  /** Directories created, parents before children. */
  readonly created: readonly string[];
}

/** Controllers a v2 pod cgroup hands down to its containers, when the parent offers them. */
const V2_DELEGATE = ["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"];

/** Every distinct hierarchy of the layout (v1 mounts once each, plus the unified one). */
function hierarchies(layout: CgroupLayout): CgroupMount[] {
  const seen = new Set<string>();
  const out: CgroupMount[] = [];
  for (const m of [...layout.v1.values(), ...(layout.unified ? [layout.unified] : [])]) {
    if (seen.has(m.dir)) continue;
    seen.add(m.dir);
    out.push(m);
  }
  return out;
}

function enableControllers(dir: string): void {
  let available: string[];
  try {
    available = kernfs.readTextFileSync(`${dir}/cgroup.controllers`).split(/\s+/);
  } catch {
    return;
  }
  const wanted = V2_DELEGATE.filter((c) => available.includes(c));
  if (wanted.length === 0) return;
  kernfs.writeTextFileSync(
    `${dir}/cgroup.subtree_control`,
    wanted.map((c) => `+${c}`).join(" "),
  );
}

/**
 * Creates the cgroup `path` (e.g. `/kubepods/besteffort/pod<uid>`) in every hierarchy,
 * with any missing ancestors, and returns what it created. On v2 the directories created
 * delegate the usual controllers to their children. Undoes itself on failure.
 */
export function createPodCgroup(layout: CgroupLayout, path: string): OwnedCgroup {
  const parts = path.split("/").slice(1);
  if (!path.startsWith("/") || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw invalidArgument(
      `pod cgroup path ${JSON.stringify(path)} must be an absolute path below the root`,
    );
  }
  const created: string[] = [];
  try {
    for (const mount of hierarchies(layout)) {
      let rel = "";
      for (const part of parts) {
        rel += `/${part}`;
        const dir = cgroupDir(mount, rel);
        try {
          kernfs.mkdirSync(dir);
        } catch (err) {
          if (err instanceof Deno.errors.AlreadyExists) continue;
          throw err;
        }
        created.push(dir);
        if (mount.version === 2) enableControllers(dir);
      }
    }
  } catch (err) {
    removeDirs(created);
    throw wrap(err, `cannot create pod cgroup ${path}`);
  }
  return { path, created };
}

function removeDirs(created: readonly string[]): string[] {
  const busy: string[] = [];
  for (const dir of [...created].reverse()) {
    try {
      Deno.removeSync(dir);
    } catch (err) {
      if (isGone(err)) continue;
      busy.push(`${dir} (${messageOf(err)})`);
    }
  }
  return busy;
}

/**
 * Removes what {@link createPodCgroup} created, children first. Already gone is fine;
 * the pod's own cgroup still holding processes or child cgroups is a failed-precondition
 * error naming it (the rest is removed anyway). An ancestor created along the way that is
 * busy is shared by sibling pods (e.g. `/sauropod` above `/sauropod/pod<id>`) and is left
 * to them.
 */
export function removePodCgroup(owned: OwnedCgroup): void {
  const leaf = owned.path.replace(/\/+$/, "");
  const busy = removeDirs(owned.created).filter((b) => b.split(" (")[0]!.endsWith(leaf));
  if (busy.length > 0) {
    throw failedPrecondition(
      `cannot remove pod cgroup ${owned.path}: ${busy.join(", ")}; ` +
        "processes or container cgroups are left in it",
    );
  }
}
