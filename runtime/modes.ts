/**
 * What other local users can reach of what the agent keeps for pods and containers: nothing.
 *
 * A container's bundle holds its environment (`config.json`: where Kubernetes puts
 * `secretKeyRef` values), its root filesystem is an overlay mounted on the host with the
 * image's setuid binaries and device nodes live (runc bind-mounts the rootfs into the
 * container keeping the mount's flags, so `nosuid`/`nodev` on the host mount would also take
 * setuid away inside the container), and a pod's /dev/shm is a 1777 tmpfs. Container and pod
 * ids are no secret (`/proc/self/mountinfo` lists the mounts), so the only protection is a
 * directory a non-root user cannot traverse: every directory the agent makes per pod or per
 * container, and the directory above it, is 0700 (containerd and moby made theirs 0700/0710
 * for CVE-2021-41103 and CVE-2021-41091). Nothing non-root needs to look inside: runc, CNI
 * plugins and shims run as root, containers see their files through bind mounts, and the
 * kubelet reads only the pod log directories, which are its own.
 *
 * Files follow the same rule (0600), except those bind-mounted into containers that a
 * container running as any uid must read: `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname`.
 *
 * `root` and `state` themselves stay 0711 (state holds the CRI socket, whose group may
 * connect); the agent never changes their mode, since a config may point them anywhere.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";

/** Directories per pod or container, and the directories holding them. */
export const PRIVATE_DIR = 0o700;
/** Files the agent writes for a pod or container (bundle, records, logs of its own). */
export const PRIVATE_FILE = 0o600;
/** Files bind-mounted into containers, which any uid in the container must read. */
export const CONTAINER_READABLE_FILE = 0o644;

/** Creates `path` (and missing parents) as a private directory; an existing one is kept. */
export async function mkdirPrivate(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: PRIVATE_DIR });
}

/**
 * The directories under `root` and `state` whose entries are one pod or container each: the
 * directory and every entry become {@link PRIVATE_DIR}; in each entry, the listed files
 * become {@link PRIVATE_FILE}. Mount points (a pod's `shm`, pinned namespace files) are
 * never touched: a chmod there would change the mounted filesystem, not the mount point.
 */
const TREES: readonly Tree[] = [
  { base: "root", dir: "containers", inner: [["config.json", "file"]] },
  { base: "root", dir: "sandboxes", inner: [["bundle", "dir"], ["bundle/config.json", "file"]] },
  { base: "root", dir: "cni" },
  { base: "state", dir: "sandboxes" },
  { base: "state", dir: "ns" },
  { base: "state", dir: "shims", everyFile: true },
];

interface Tree {
  base: "root" | "state";
  dir: string;
  /** Paths inside each entry to tighten. */
  inner?: readonly (readonly [string, "dir" | "file"])[];
  /** Every regular file directly in each entry (a shim's records and logs). */
  everyFile?: boolean;
}

/** Files directly under `root`. */
const ROOT_FILES = ["sauropod.db", "sauropod.db-wal", "sauropod.db-shm"];

/**
 * Tightens what an older agent left with looser modes (0755 bundles, 0644 `config.json`):
 * run once at start, before anything is served. Returns the paths it changed. A symlink
 * where a directory or file is expected is left alone (the trees are root's: nothing
 * non-root could have planted one).
 */
export async function tightenModes(
  dirs: { root: string; state: string },
  log?: Logger,
): Promise<string[]> {
  const changed: string[] = [];
  const tighten = async (path: string, mode: number, kind: "dir" | "file") => {
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw err;
    }
    const ok = kind === "dir" ? st.isDirectory : st.isFile;
    if (!ok || st.mode === null) return;
    // Only ever remove bits: a mode already tighter stays as it is.
    const want = st.mode & 0o7777 & mode;
    if ((st.mode & 0o7777) === want) return;
    await Deno.chmod(path, want);
    changed.push(path);
  };

  for (const f of ROOT_FILES) await tighten(`${dirs.root}/${f}`, PRIVATE_FILE, "file");
  for (const t of TREES) {
    const dir = `${dirs[t.base]}/${t.dir}`;
    await tighten(dir, PRIVATE_DIR, "dir");
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    for (const e of entries) {
      const entry = `${dir}/${e.name}`;
      if (e.isFile) {
        await tighten(entry, PRIVATE_FILE, "file");
        continue;
      }
      if (!e.isDirectory) continue;
      await tighten(entry, PRIVATE_DIR, "dir");
      for (const [p, kind] of t.inner ?? []) {
        await tighten(`${entry}/${p}`, kind === "dir" ? PRIVATE_DIR : PRIVATE_FILE, kind);
      }
      if (t.everyFile) {
        for await (const inner of Deno.readDir(entry)) {
          if (inner.isFile) await tighten(`${entry}/${inner.name}`, PRIVATE_FILE, "file");
        }
      }
    }
  }
  if (changed.length > 0) {
    log?.info("tightened the modes an older agent left", {
      count: changed.length,
      first: changed[0],
    });
  }
  return changed;
}

/**
 * Lets a user-namespaced pod's processes (running as host id `hostId` and up) reach `dir`,
 * one of its own directories: the OCI runtime resolves the rootfs and mount sources from
 * inside the pod's user namespace. As moby does for user-namespace remapping: the entry
 * becomes 0710 with group `hostId` (that pod's root may pass, no one else may), and its
 * parent, which holds every pod's or container's entry, 0711 (passable, not listable; each
 * entry keeps its own 0700 or 0710). Done at each creation, since a start tightens parents
 * back to 0700 (`tightenModes`).
 */
export async function openToUserns(dir: string, hostId: number): Promise<void> {
  const parent = dir.slice(0, dir.lastIndexOf("/"));
  await Deno.chmod(parent, 0o711);
  await Deno.chown(dir, 0, hostId);
  await Deno.chmod(dir, 0o710);
}
