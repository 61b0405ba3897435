/**
 * Pinned pod namespaces, as CRI-O's `pinns` makes them: network, IPC and UTS namespaces
 * created once per pod and kept alive by bind mounts of their nsfs files, so a pod needs
 * no pause process. Containers join them by path (`runc` `namespaces[].path`).
 *
 * The namespaces are made by util-linux `unshare --net=<file> --ipc=<file> --uts=<file>`,
 * which bind-mounts them onto the files and then runs a tiny shell step inside them to set
 * the hostname and the pod's sysctls. A child process, not the agent, changes namespaces:
 * Deno's JS thread (and the Tokio threads behind it) never leave the node's. Measured here:
 * ≈ 3.7 ms per pod through `unshare`, ≈ 1.3 ms through FFI `unshare(2)` in a dedicated
 * Worker; the 2.4 ms difference is noise beside a CNI ADD (≈ 100 ms), and the child keeps
 * a failure (or a crash) far from the agent's own threads.
 *
 * Mount propagation: like `ip netns add` does for /run/netns, the parent of the pod
 * directories (`<state>/ns`) is made a shared mount (bind-mounted onto itself first when
 * it is not a mount point). Mount namespaces copied from the node's later (a daemon with
 * PrivateTmp, an `unshare -m` shell) then receive the unmount when a pod is removed,
 * instead of keeping a copy of the bind mount that holds the netns alive forever.
 *
 * @module
 */
import { internal, invalidArgument, isAlreadyExists, wrap } from "../errors/mod.ts";
import { bindMount, setPropagation, unmount } from "../ffi/mount.ts";
import { Errno, SyscallError } from "../ffi/mod.ts";
import { KeyedLock } from "../lib/keyed_lock.ts";
import { runProcess, tailText } from "./_exec.ts";
// Deno grants /proc only to --allow-all: the holder's namespaces and id maps go through libc.
import * as kernfs from "../ffi/kernfs.ts";
import { type NamespaceKind, planSysctls, type SysctlWrite, validateHostname } from "./_sysctl.ts";

/** Paths of the pinned namespace files; a missing key means the node's namespace. */
export interface PinnedNamespaces {
  /** The pod's user namespace (only with {@link PinOptions.userns}). */
  readonly user?: string;
  readonly net?: string;
  readonly ipc?: string;
  readonly uts?: string;
}

/** Options of {@link pinNamespaces}. */
export interface PinOptions {
  /** The pod's directory, e.g. `<state>/ns/<podId>`; created, and must not hold pins yet. */
  readonly dir: string;
  readonly net: boolean;
  readonly ipc: boolean;
  readonly uts: boolean;
  /** Set inside a new UTS namespace; ignored with `uts: false` (never the node's name). */
  readonly hostname?: string;
  /** Namespaced sysctls, applied inside the new namespaces (dotted or slashed names). */
  readonly sysctls?: Readonly<Record<string, string>>;
  /**
   * A user namespace for the pod, mapping container ids 0.. to `hostId`.. (`length` ids,
   * gids alike). It is created first, so it owns the pod's network, IPC and UTS namespaces
   * (needs all three: `net`, `ipc` and `uts` true).
   */
  readonly userns?: { readonly hostId: number; readonly length: number };
  readonly signal?: AbortSignal;
}

/** How long `unshare` may take; netns creation can crawl on a loaded node. */
const UNSHARE_TIMEOUT_MS = 60_000;

const KINDS: readonly NamespaceKind[] = ["net", "ipc", "uts"];

// Runs inside the new namespaces with (path, value) pairs as arguments. Reporting by index
// lets the agent name the sysctl; values never touch the script text.
const APPLY_SCRIPT = `i=0
while [ "$#" -gt 1 ]; do
  if [ ! -e "$1" ]; then echo "sauropod:unknown:$i" >&2; exit 3; fi
  if ! printf '%s' "$2" > "$1"; then echo "sauropod:rejected:$i" >&2; exit 4; fi
  i=$((i + 1))
  shift 2
done`;

const rootLocks = new KeyedLock();

/**
 * Creates the pod's namespaces and pins them under `opts.dir` (files `net`, `ipc`, `uts`),
 * sets the hostname and applies the sysctls inside. Invalid sysctls (malformed, not
 * namespaced, in a namespace shared with the node, unknown to the kernel, or with a value
 * the kernel rejects) fail with invalid-argument naming the sysctl. On any failure
 * everything made so far is removed.
 */
export async function pinNamespaces(opts: PinOptions): Promise<PinnedNamespaces> {
  const owned = { net: opts.net, ipc: opts.ipc, uts: opts.uts };
  const writes: SysctlWrite[] = planSysctls(opts.sysctls ?? {}, owned);
  if (opts.uts && opts.hostname !== undefined) validateHostname(opts.hostname);
  if (opts.userns && !(opts.net && opts.ipc && opts.uts)) {
    throw invalidArgument("a pod user namespace needs the pod's own network, IPC and UTS");
  }
  const kinds = KINDS.filter((k) => owned[k]);
  if (kinds.length === 0) return {};
  if (!opts.dir.startsWith("/")) throw invalidArgument(`dir "${opts.dir}" must be absolute`);
  const dir = opts.dir.replace(/\/+$/, "");
  const parent = dir.slice(0, dir.lastIndexOf("/")) || "/";

  // Root only, as every per-pod directory (runtime/modes.ts): runc, CNI plugins and the
  // port-forward worker open these files as root.
  await Deno.mkdir(parent, { recursive: true, mode: 0o700 });
  await ensureSharedMount(parent);

  let createdDir = false;
  const created: string[] = [];
  try {
    try {
      await Deno.mkdir(dir, { mode: 0o700 });
      createdDir = true;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    const pinned: Record<string, string> = {};
    for (const k of kinds) {
      const path = `${dir}/${k}`;
      try {
        await Deno.writeFile(path, new Uint8Array(), { createNew: true, mode: 0o444 });
      } catch (err) {
        if (isAlreadyExists(err)) {
          throw wrap(err, `namespace file ${path} already exists (pod namespaces already pinned?)`);
        }
        throw err;
      }
      created.push(path);
      pinned[k] = path;
    }

    const pairs: string[] = [];
    const names: string[] = [];
    if (opts.uts && opts.hostname !== undefined) {
      pairs.push("/proc/sys/kernel/hostname", opts.hostname);
      names.push("hostname");
    }
    for (const w of writes) {
      pairs.push(w.path, w.value);
      names.push(w.name);
    }
    if (opts.userns) {
      const user = `${dir}/user`;
      await Deno.writeFile(user, new Uint8Array(), { createNew: true, mode: 0o444 });
      created.push(user);
      await pinWithUserns(opts.userns, { user, ...pinned });
      pinned.user = user;
    }
    const out = await runProcess(opts.userns ? "nsenter" : "unshare", {
      args: [
        ...kinds.map((k) => `--${k}=${pinned[k]}`),
        "--",
        "/bin/sh",
        "-c",
        APPLY_SCRIPT,
        "sh",
        ...pairs,
      ],
      timeoutMs: UNSHARE_TIMEOUT_MS,
      signal: opts.signal,
      what: `${opts.userns ? "nsenter" : "unshare"} of pod namespaces in ${dir}`,
    });
    if (out.code !== 0) throw applyError(out.code, tailText(out.stderr), names, opts);
    return pinned as PinnedNamespaces;
  } catch (err) {
    for (const path of created) await removeNamespaceFile(path).catch(() => {});
    if (createdDir) await Deno.remove(dir).catch(() => {});
    throw err;
  }
}

/**
 * Makes a user namespace with the pod's mapping that owns new network, IPC and UTS
 * namespaces, and pins all four on the files in `files`: a `unshare --user --net --ipc
 * --uts sleep` holder (one unshare(2), the user namespace first), whose id maps the agent
 * writes as root, and whose namespaces it bind-mounts; then the holder is killed (by its
 * pid). The hostname and sysctls are applied afterwards from outside the user namespace
 * (`nsenter`, as the node's root), as for a pod without one.
 */
async function pinWithUserns(
  m: { hostId: number; length: number },
  files: Record<string, string>,
): Promise<void> {
  const holder = new Deno.Command("unshare", {
    args: ["--user", "--net", "--ipc", "--uts", "--", "sleep", "60"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const own = kernfs.readLinkSync("/proc/self/ns/net");
    const deadline = Date.now() + UNSHARE_TIMEOUT_MS;
    while (kernfs.readLinkSync(`/proc/${holder.pid}/ns/net`) === own) {
      if (Date.now() > deadline) throw internal("unshare --user --net did not make namespaces");
      await new Promise((r) => setTimeout(r, 5));
    }
    const map = `0 ${m.hostId} ${m.length}\n`;
    kernfs.writeTextFileSync(`/proc/${holder.pid}/uid_map`, map);
    kernfs.writeTextFileSync(`/proc/${holder.pid}/gid_map`, map);
    for (const [kind, file] of Object.entries(files)) {
      bindMount(`/proc/${holder.pid}/ns/${kind}`, file);
    }
  } catch (err) {
    throw wrap(err, "cannot make the pod's user namespace");
  } finally {
    try {
      holder.kill("SIGKILL");
    } catch {
      // already gone
    }
    await holder.output().catch(() => {});
  }
}

function applyError(
  code: number,
  stderr: string,
  names: readonly string[],
  opts: PinOptions,
): Error {
  const m = /sauropod:(unknown|rejected):(\d+)/.exec(stderr);
  const name = m ? names[Number(m[2])] : undefined;
  if (m && name === "hostname") {
    return invalidArgument(`hostname ${JSON.stringify(opts.hostname)} was rejected by the kernel`);
  }
  if (m && name !== undefined) {
    if (m[1] === "unknown") {
      return invalidArgument(
        `sysctl ${JSON.stringify(name)} does not exist in the pod's namespace ` +
          "(unknown, or not namespaced on this kernel)",
      );
    }
    const detail = stderr.replace(/sauropod:\w+:\d+/, "").trim();
    return invalidArgument(
      `sysctl ${JSON.stringify(name)} rejected value ${JSON.stringify(opts.sysctls?.[name])}${
        detail ? `: ${detail}` : ""
      }`,
    );
  }
  return internal(`unshare of pod namespaces failed with exit code ${code}: ${stderr}`);
}

/**
 * Unpins and removes the pod's namespace files and directory. Idempotent: a missing
 * directory, a file that is not mounted, or a half-made directory from an interrupted
 * {@link pinNamespaces} are all fine. A namespace lives on while a process is in it.
 */
export async function unpinNamespaces(dir: string): Promise<void> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) names.push(e.name);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw wrap(err, `cannot list pinned namespaces in ${dir}`);
  }
  for (const name of names) await removeNamespaceFile(`${dir}/${name}`);
  try {
    await Deno.remove(dir);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return;
    throw wrap(err, `cannot remove pinned namespace directory ${dir}`);
  }
}

async function removeNamespaceFile(path: string): Promise<void> {
  try {
    // A file pinned twice (a retried pin on a half-made dir) carries stacked mounts.
    for (let i = 0; i < 16 && unmount(path, { detach: true }); i++);
  } catch (err) {
    throw wrap(err, `cannot unmount pinned namespace ${path}`);
  }
  try {
    await Deno.remove(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      throw wrap(err, `cannot remove pinned namespace file ${path}`);
    }
  }
}

/** Makes `dir` a shared mount point, bind-mounting it onto itself first if needed. */
async function ensureSharedMount(dir: string): Promise<void> {
  await rootLocks.run(dir, () => {
    try {
      setPropagation(dir, "shared");
      return Promise.resolve();
    } catch (err) {
      // EINVAL: not a mount point yet.
      if (!(err instanceof SyscallError) || err.errno !== Errno.EINVAL) {
        throw wrap(err, `cannot make ${dir} a shared mount`);
      }
    }
    try {
      bindMount(dir, dir);
      setPropagation(dir, "shared");
    } catch (err) {
      throw wrap(err, `cannot make ${dir} a shared mount`);
    }
    return Promise.resolve();
  });
}

/**
 * True when `path` is a mounted namespace file: nsfs has its own device, so a bind-mounted
 * ns file's `dev` differs from its directory's, while a leftover plain file's does not.
 */
export async function isLiveNamespace(path: string): Promise<boolean> {
  if (!path) return false;
  try {
    const [file, dir] = await Promise.all([
      Deno.stat(path),
      Deno.stat(path.slice(0, path.lastIndexOf("/")) || "/"),
    ]);
    return file.dev !== dir.dev;
  } catch {
    return false;
  }
}
