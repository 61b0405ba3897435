/**
 * Facts about the host that the spec builders need but, being pure, do not look up: what
 * each host path named by a container config is, and the host's device nodes. The runtime
 * gathers them (stat, realpath, mountinfo) before building, and fails there on a missing
 * path.
 *
 * @module
 */

/** A device node as `stat(2)` reports it. */
export interface DeviceFacts {
  /** `c` for character, `b` for block devices. */
  type: "c" | "b";
  /** Major device number. */
  major: number;
  /** Minor device number. */
  minor: number;
  /** Permission bits (`st_mode & 07777`). */
  fileMode: number;
  /** Owner. */
  uid: number;
  /** Group. */
  gid: number;
}

/** What one host path of a container config is. */
export interface HostPathFacts {
  /** What `stat(2)` of the resolved path says it is. */
  kind: "file" | "directory" | "device" | "other";
  /** The path with every symlink resolved: what is bind-mounted or created. */
  realPath: string;
  /** Set when `kind` is `device`. */
  device?: DeviceFacts;
  /**
   * Propagation of the host mount that holds the path (`shared:N` / `master:N` in
   * mountinfo). When given, bidirectional mounts need `shared` and host-to-container mounts
   * need `shared` or `slave`, as containerd checks (ensureShared, ensureSharedOrSlave).
   */
  propagation?: "shared" | "slave" | "private";
  /** Filesystem type of the host mount that holds the path (mountinfo), when known. */
  fsType?: string;
}

/**
 * Facts for every host path a container config names, keyed by the path as written in the
 * config (`Mount.host_path`, `Device.host_path`). A device directory (`/dev/snd`) lists its
 * device nodes under their own keys (`/dev/snd/timer`…).
 */
export type HostPaths = Readonly<Record<string, HostPathFacts>>;

/** A host device node given to privileged containers (containerd's HostDevices: `/dev`). */
export interface HostDevice extends DeviceFacts {
  /** Path on the host, and in the container. */
  path: string;
}
