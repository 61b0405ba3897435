/**
 * Where the cgroup hierarchies are: v1, v2 (unified) or hybrid, and which controllers
 * live on which, read from `/proc/self/mountinfo` (proc(5)) and the unified root's
 * `cgroup.controllers`; and where a process sits in them (`/proc/<pid>/cgroup`).
 *
 * Everything here takes the files' text or a filesystem root, so fixture trees stand in
 * for `/` in unit tests.
 *
 * @module
 */
import { failedPrecondition, internal, invalidArgument, notFound, wrap } from "../errors/mod.ts";
// Deno grants /proc and cgroupfs only to --allow-all; they are read through libc.
import * as kernfs from "../ffi/kernfs.ts";

/** One line of `/proc/<pid>/mountinfo` (proc(5)). */
export interface MountInfoEntry {
  /** Mount ID. */
  readonly mountId: number;
  /** Parent mount ID. */
  readonly parentId: number;
  /** `major:minor` of the filesystem. */
  readonly majorMinor: string;
  /** The directory of the filesystem that forms the root of this mount. */
  readonly root: string;
  /** Where it is mounted, relative to the reader's root, unescaped. */
  readonly mountPoint: string;
  /** Per-mount options (`rw,nosuid,…`). */
  readonly mountOptions: readonly string[];
  /** Optional fields (`shared:1`, `master:2`…). */
  readonly optional: readonly string[];
  /** Filesystem type (`cgroup`, `cgroup2`, `tmpfs`…). */
  readonly fsType: string;
  /** Mount source. */
  readonly source: string;
  /** Per-superblock options; for cgroup v1 these name the hierarchy's controllers. */
  readonly superOptions: readonly string[];
}

/** cgroup v1 or v2. */
export type CgroupVersion = 1 | 2;

/** How the node mounts cgroups: all v1, pure v2, or v1 controllers beside a v2 mount. */
export type CgroupMode = "v1" | "v2" | "hybrid";

/** One mounted cgroup hierarchy. */
export interface CgroupMount {
  /** 1 for a `cgroup` mount, 2 for `cgroup2`. */
  readonly version: CgroupVersion;
  /** The directory to read, i.e. the mount point under the filesystem root in use. */
  readonly dir: string;
  /** The cgroup (inside the hierarchy) that is mounted at `dir`; `/` outside a cgroupns. */
  readonly root: string;
  /**
   * Controllers: for v1 the hierarchy's (`cpu`, `cpuacct`, or `name=systemd` for a named
   * hierarchy); for v2 those listed in the mounted cgroup's `cgroup.controllers`.
   */
  readonly controllers: readonly string[];
}

/** The node's cgroup layout. */
export interface CgroupLayout {
  /** v1, v2 or hybrid. */
  readonly mode: CgroupMode;
  /** The cgroup2 mount, if any (in hybrid mode usually without controllers). */
  readonly unified: CgroupMount | undefined;
  /** v1 hierarchies by controller (`memory`, `cpuacct`, `name=systemd`…). */
  readonly v1: ReadonlyMap<string, CgroupMount>;
}

/** One line of `/proc/<pid>/cgroup`: `hierarchy-ID:controller-list:cgroup-path`. */
export interface ProcCgroupEntry {
  /** 0 for the v2 hierarchy. */
  readonly hierarchyId: number;
  /** Controllers bound to the hierarchy (empty for v2). */
  readonly controllers: readonly string[];
  /** The process's cgroup, relative to the hierarchy's root. */
  readonly path: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal (`\040`). */
function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses mountinfo text; a malformed line is an internal error naming its number. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === "") continue;
    const fields = line.split(" ");
    const sep = fields.indexOf("-", 6);
    if (fields.length < 10 || sep < 0 || fields.length < sep + 4) {
      throw internal(`mountinfo line ${i + 1}: malformed: ${JSON.stringify(line)}`);
    }
    const mountId = Number(fields[0]);
    const parentId = Number(fields[1]);
    if (!Number.isInteger(mountId) || !Number.isInteger(parentId)) {
      throw internal(`mountinfo line ${i + 1}: mount ids are not integers`);
    }
    out.push({
      mountId,
      parentId,
      majorMinor: fields[2]!,
      root: unescapeOctal(fields[3]!),
      mountPoint: unescapeOctal(fields[4]!),
      mountOptions: fields[5]!.split(","),
      optional: fields.slice(6, sep),
      fsType: fields[sep + 1]!,
      source: unescapeOctal(fields[sep + 2]!),
      superOptions: fields[sep + 3]!.split(","),
    });
  }
  return out;
}

/** Super options of a v1 cgroup mount that are not controllers. */
const V1_NON_CONTROLLER_OPTIONS = new Set([
  "rw",
  "ro",
  "noprefix",
  "clone_children",
  "xattr",
  "cpuset_v2_mode",
  "favordynmods",
  "nofavordynmods",
]);

/** The controllers a v1 mount's super options name (`name=systemd` kept as is). */
function v1Controllers(superOptions: readonly string[]): string[] {
  return superOptions.filter((o) =>
    o !== "" && !V1_NON_CONTROLLER_OPTIONS.has(o) && !o.startsWith("release_agent=")
  );
}

/**
 * Builds the layout from parsed mountinfo, the unified mount's `cgroup.controllers` text
 * (empty when there is no cgroup2 mount) and the filesystem root the mount points are
 * under (`""` for the real root).
 */
export function layoutFromMounts(
  entries: readonly MountInfoEntry[],
  unifiedControllers: string,
  fsRoot = "",
): CgroupLayout {
  let unified: CgroupMount | undefined;
  const v1 = new Map<string, CgroupMount>();
  // A hierarchy can be mounted several times (bind mounts); prefer the mount of its root.
  const ordered = [...entries].sort((a, b) => Number(b.root === "/") - Number(a.root === "/"));
  for (const e of ordered) {
    const dir = `${fsRoot}${e.mountPoint}`;
    if (e.fsType === "cgroup2") {
      unified ??= {
        version: 2,
        dir,
        root: e.root,
        controllers: unifiedControllers.split(/\s+/).filter((c) => c !== ""),
      };
    } else if (e.fsType === "cgroup") {
      const controllers = v1Controllers(e.superOptions);
      const mount: CgroupMount = { version: 1, dir, root: e.root, controllers };
      for (const c of controllers) if (!v1.has(c)) v1.set(c, mount);
    }
  }
  const v1HasControllers = [...v1.keys()].some((c) => !c.startsWith("name="));
  let mode: CgroupMode;
  if (unified && !v1HasControllers) mode = "v2";
  else if (unified) mode = "hybrid";
  else if (v1.size > 0) mode = "v1";
  else throw failedPrecondition("no cgroup or cgroup2 filesystem is mounted (see mountinfo)");
  return { mode, unified, v1 };
}

/**
 * Detects the layout from a mountinfo file (default `/proc/self/mountinfo`); `fsRoot`
 * prefixes every mount point, so a fixture tree can stand in for `/`.
 */
export async function detectLayout(
  opts: { mountinfo?: string; fsRoot?: string } = {},
): Promise<CgroupLayout> {
  const path = opts.mountinfo ?? "/proc/self/mountinfo";
  const fsRoot = opts.fsRoot ?? "";
  let text: string;
  try {
    text = await kernfs.readTextFile(path);
  } catch (err) {
    throw wrap(err, `cannot read mountinfo ${path}`);
  }
  const entries = parseMountInfo(text);
  const v2 = entries.find((e) => e.fsType === "cgroup2");
  let controllers = "";
  if (v2) {
    try {
      controllers = await kernfs.readTextFile(`${fsRoot}${v2.mountPoint}/cgroup.controllers`);
    } catch {
      // A cgroup2 mount without cgroup.controllers has no controllers to offer.
    }
  }
  return layoutFromMounts(entries, controllers, fsRoot);
}

/** Which version serves `controller` (`memory`, `cpu`, `cpuacct`, `pids`, `io`/`blkio`…). */
export function controllerVersion(
  layout: CgroupLayout,
  controller: string,
): CgroupVersion | undefined {
  if (layout.v1.has(controller)) return 1;
  if (layout.unified?.controllers.includes(controller)) return 2;
  return undefined;
}

/** The mount that serves `controller`, preferring v1 where it is bound (hybrid). */
export function mountFor(layout: CgroupLayout, controller: string): CgroupMount | undefined {
  const v1 = layout.v1.get(controller);
  if (v1) return v1;
  if (layout.unified?.controllers.includes(controller)) return layout.unified;
  return undefined;
}

/** Parses `/proc/<pid>/cgroup`. */
export function parseProcCgroup(text: string): ProcCgroupEntry[] {
  const out: ProcCgroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) {
      throw internal(`/proc/<pid>/cgroup: malformed line ${JSON.stringify(line)}`);
    }
    const hierarchyId = Number(line.slice(0, first));
    if (!Number.isInteger(hierarchyId)) {
      throw internal(`/proc/<pid>/cgroup: bad hierarchy id in ${JSON.stringify(line)}`);
    }
    const list = line.slice(first + 1, second);
    out.push({
      hierarchyId,
      controllers: list === "" ? [] : list.split(","),
      path: line.slice(second + 1),
    });
  }
  return out;
}

/**
 * The directory of a cgroup `path` (as the kernel names it, from the hierarchy's root) on
 * `mount`, which may itself mount a sub-cgroup (`root` ≠ `/` in a cgroup namespace).
 */
export function cgroupDir(mount: CgroupMount, path: string): string {
  if (!path.startsWith("/")) {
    throw invalidArgument(`cgroup path ${JSON.stringify(path)} is not absolute`);
  }
  const root = mount.root === "/" ? "" : mount.root.replace(/\/$/, "");
  if (root !== "" && path !== root && !path.startsWith(`${root}/`)) {
    throw failedPrecondition(
      `cgroup ${JSON.stringify(path)} is outside the mounted cgroup ${JSON.stringify(mount.root)}`,
    );
  }
  const rel = path.slice(root.length);
  return rel === "" || rel === "/" ? mount.dir : `${mount.dir}${rel}`;
}

/**
 * Where `controller` of the process described by `procCgroup` lives on disk, e.g.
 * `/sys/fs/cgroup/memory/kubepods/pod1/abc`. Not-found when the process is in no cgroup
 * of that controller; failed-precondition when the controller is not mounted.
 */
export function processControllerDir(
  layout: CgroupLayout,
  procCgroup: readonly ProcCgroupEntry[],
  controller: string,
): string {
  const mount = mountFor(layout, controller);
  if (!mount) throw failedPrecondition(`the ${controller} cgroup controller is not mounted`);
  const entry = mount.version === 1
    ? procCgroup.find((e) => e.hierarchyId !== 0 && e.controllers.includes(controller))
    : procCgroup.find((e) => e.hierarchyId === 0);
  if (!entry) {
    throw notFound(`process is in no cgroup of the ${controller} controller (v${mount.version})`);
  }
  return cgroupDir(mount, entry.path);
}
