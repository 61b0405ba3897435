/**
 * The two cgroup drivers the kubelet knows, which must match its `cgroupDriver`:
 *
 * - `cgroupfs`: the pod's `cgroup_parent` is a path (`/kubepods/burstable/pod<uid>`) and a
 *   container's cgroup is `<parent>/<id>`, which is also runc's `linux.cgroupsPath`.
 * - `systemd`: the parent is a slice (`kubepods-burstable-pod<uid>.slice`, or the kubelet's
 *   full `/kubepods.slice/…/kubepods-burstable-pod<uid>.slice`), runc gets
 *   `<slice>:cri-sauropod:<id>` (runc `--systemd-cgroup`, the form containerd uses with its
 *   `cri-containerd` prefix and CRI-O with `crio`) and creates the transient scope
 *   `cri-sauropod-<id>.scope` under the slice, whose directory is the slice name expanded
 *   the way systemd (and runc's `ExpandSlice`) does:
 *   `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/cri-sauropod-<id>.scope`.
 *
 * Everything here is pure and validates its input with invalid-argument errors naming
 * the field.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";

/** The driver names of the config key `runtime.cgroup_driver` and the kubelet. */
export type CgroupDriverName = "cgroupfs" | "systemd";

/** The scope prefix of container units (`cri-sauropod-<id>.scope`). */
export const SCOPE_PREFIX = "cri-sauropod";

/** Parent used when the pod has no `cgroup_parent` (crictl without one, critest). */
export const DEFAULT_PARENT: Readonly<Record<CgroupDriverName, string>> = {
  cgroupfs: "/sauropod",
  // CRI-O's choice for the systemd manager.
  systemd: "system.slice",
};

/** Names the cgroups of pods and containers for one driver. */
export interface CgroupDriver {
  /** `cgroupfs` or `systemd`. */
  readonly name: CgroupDriverName;
  /**
   * The pod cgroup's path inside the hierarchies, from the kubelet's `cgroup_parent`
   * (empty: the driver's default parent).
   */
  podCgroupPath(cgroupParent: string): string;
  /** The `linux.cgroupsPath` of a container's (or the sandbox's) OCI spec. */
  runtimeCgroupsPath(cgroupParent: string, containerId: string): string;
  /** Where runc puts the container's cgroup, inside the hierarchies. */
  containerCgroupPath(cgroupParent: string, containerId: string): string;
}

/** The `CgroupDriver` enum value of CRI's `RuntimeConfigResponse` (SYSTEMD = 0, CGROUPFS = 1). */
export function criCgroupDriver(name: CgroupDriverName): 0 | 1 {
  return name === "systemd" ? 0 : 1;
}

/**
 * What may name a cgroup directory or a systemd unit: one path component (not `.` or `..`)
 * in the characters systemd allows in unit names, without its `:` and backslash (a cgroupsPath
 * is `slice:prefix:name`). The ids the runtime mints (`shim/protocol.ts`'s rule) fit.
 */
const CGROUP_NAME = /^[A-Za-z0-9_.@-]{1,255}$/;

function checkId(containerId: string): void {
  if (!CGROUP_NAME.test(containerId) || containerId === "." || containerId === "..") {
    throw invalidArgument(
      `container id ${JSON.stringify(containerId)} is not a valid cgroup name ` +
        "(letters, digits, '_', '.', '@', '-'; at most 255; not '.' or '..')",
    );
  }
}

/** Checks and normalises a cgroupfs `cgroup_parent`: absolute, no `.`/`..`/empty parts. */
function cgroupfsParent(cgroupParent: string): string {
  const parent = cgroupParent === "" ? DEFAULT_PARENT.cgroupfs : cgroupParent;
  const field = `cgroup_parent ${JSON.stringify(cgroupParent)}`;
  if (!parent.includes("/") && parent.endsWith(".slice")) {
    throw invalidArgument(
      `${field} is a systemd slice but the cgroup driver is cgroupfs ` +
        `(set runtime.cgroup_driver = "systemd" to match the kubelet)`,
    );
  }
  if (!parent.startsWith("/")) throw invalidArgument(`${field} must be an absolute path`);
  const parts = parent.split("/").slice(1);
  if (parent.endsWith("/") && parent !== "/") parts.pop();
  for (const p of parts) {
    if (p === "" || p === "." || p === "..") {
      throw invalidArgument(`${field} has an empty, "." or ".." component`);
    }
    if (/[\0\n:]/.test(p)) throw invalidArgument(`${field} contains NUL, newline or ':'`);
  }
  return parts.length === 0 ? "" : `/${parts.join("/")}`;
}

/**
 * Expands a systemd slice name into its cgroup path, as systemd does:
 * `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` is the root.
 * Invalid-argument (naming `field`) for anything that is not a slice name.
 */
export function expandSlice(slice: string, field = "cgroup_parent"): string {
  const bad = (why: string) =>
    invalidArgument(`${field} ${JSON.stringify(slice)} is not a valid systemd slice: ${why}`);
  if (!slice.endsWith(".slice") || slice === ".slice") throw bad("it must end in .slice");
  if (slice.includes("/")) throw bad("a slice name has no '/'");
  const name = slice.slice(0, -".slice".length);
  if (name === "-") return "/";
  if (!/^[A-Za-z0-9:_.\\-]+$/.test(name)) throw bad("systemd unit names use [A-Za-z0-9:_.\\-]");
  let path = "";
  let prefix = "";
  for (const component of name.split("-")) {
    // "a--b.slice" and "-a.slice" are not slices systemd would create.
    if (component === "") throw bad("empty component between dashes");
    path += `/${prefix}${component}.slice`;
    prefix += `${component}-`;
  }
  return path;
}

/**
 * The slice name of a systemd `cgroup_parent`: the parent itself, or the last component
 * of the kubelet's expanded path, which must agree with the slice's own expansion (runc
 * uses the expansion, so a disagreeing path would send stats reads elsewhere).
 */
function systemdSlice(cgroupParent: string): string {
  if (cgroupParent === "") return DEFAULT_PARENT.systemd;
  if (!cgroupParent.includes("/")) {
    expandSlice(cgroupParent);
    return cgroupParent;
  }
  const slice = cgroupParent.slice(cgroupParent.lastIndexOf("/") + 1);
  if (slice === "") {
    throw invalidArgument(`cgroup_parent ${JSON.stringify(cgroupParent)} ends with '/'`);
  }
  if (!slice.endsWith(".slice")) {
    throw invalidArgument(
      `cgroup_parent ${JSON.stringify(cgroupParent)} is a cgroupfs path but the cgroup driver ` +
        `is systemd (set runtime.cgroup_driver = "cgroupfs" to match the kubelet)`,
    );
  }
  const expanded = expandSlice(slice);
  if (cgroupParent.replace(/\/+$/, "") !== expanded) {
    throw invalidArgument(
      `cgroup_parent ${JSON.stringify(cgroupParent)} does not match the expansion of ` +
        `${slice} (${expanded})`,
    );
  }
  return slice;
}

const cgroupfs: CgroupDriver = {
  name: "cgroupfs",
  podCgroupPath(cgroupParent: string): string {
    return cgroupfsParent(cgroupParent) || "/";
  },
  runtimeCgroupsPath(cgroupParent: string, containerId: string): string {
    return this.containerCgroupPath(cgroupParent, containerId);
  },
  containerCgroupPath(cgroupParent: string, containerId: string): string {
    checkId(containerId);
    return `${cgroupfsParent(cgroupParent)}/${containerId}`;
  },
};

const systemd: CgroupDriver = {
  name: "systemd",
  podCgroupPath(cgroupParent: string): string {
    return expandSlice(systemdSlice(cgroupParent));
  },
  runtimeCgroupsPath(cgroupParent: string, containerId: string): string {
    checkId(containerId);
    return `${systemdSlice(cgroupParent)}:${SCOPE_PREFIX}:${containerId}`;
  },
  containerCgroupPath(cgroupParent: string, containerId: string): string {
    checkId(containerId);
    const slice = expandSlice(systemdSlice(cgroupParent));
    return `${slice === "/" ? "" : slice}/${SCOPE_PREFIX}-${containerId}.scope`;
  },
};

/** The driver called `name` (the value of `runtime.cgroup_driver`). */
export function cgroupDriver(name: CgroupDriverName): CgroupDriver {
  return name === "systemd" ? systemd : cgroupfs;
}

/**
 * The cgroup path runc uses for an OCI `linux.cgroupsPath`, for either driver: a
 * `slice:prefix:name` triple (systemd) or a path (cgroupfs). Lets recovery find a
 * container's cgroup from its persisted spec alone.
 */
export function cgroupPathOfRuntimePath(runtimeCgroupsPath: string): string {
  const parts = runtimeCgroupsPath.split(":");
  if (parts.length === 1) return cgroupfs.podCgroupPath(runtimeCgroupsPath);
  if (parts.length !== 3) {
    throw invalidArgument(
      `linux.cgroupsPath ${
        JSON.stringify(runtimeCgroupsPath)
      } is neither a path nor slice:prefix:name`,
    );
  }
  const [slice, prefix, name] = parts as [string, string, string];
  checkId(name);
  if (!/^[A-Za-z0-9_.-]*$/.test(prefix)) {
    throw invalidArgument(`linux.cgroupsPath prefix ${JSON.stringify(prefix)} is invalid`);
  }
  const base = expandSlice(slice === "" ? DEFAULT_PARENT.systemd : slice, "linux.cgroupsPath");
  // runc: a name ending in .slice is the unit itself; otherwise a scope <prefix>-<name>.
  const unit = name.endsWith(".slice") ? name : `${prefix}-${name}.scope`;
  return `${base === "/" ? "" : base}/${unit}`;
}
