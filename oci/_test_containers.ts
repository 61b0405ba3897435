/**
 * Test support for code that runs real containers through the shim (integration tests
 * only): a busybox rootfs, OCI bundles, a scratch runc root, and cleanup that checks
 * nothing leaked.
 *
 * The config written here is a small one built on this folder's defaults (capabilities,
 * mounts, masked and read-only paths: what the agent gives an unprivileged container), so
 * these tests see a change to them; the cgroup is under a test-only parent. It lives here,
 * beside those defaults, so that the shim's tests (and bench/shim_memory.ts) import it
 * downward.
 *
 * @module
 */
import {
  DEFAULT_CAPABILITIES,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultMounts,
} from "./mod.ts";

/** Where Debian's busybox-static installs. */
export const BUSYBOX = "/bin/busybox";
/** The runtime under test. */
export const RUNC = "/usr/sbin/runc";

/** True when this machine can run the container tests (root, runc, busybox). */
export function canRunContainers(): boolean {
  try {
    if (Deno.uid() !== 0) return false;
    Deno.statSync(RUNC);
    Deno.statSync(BUSYBOX);
    return true;
  } catch {
    return false;
  }
}

/** Why container tests are skipped here, or undefined when they can run. */
export function containerSkipReason(): string | undefined {
  return canRunContainers() ? undefined : `needs root, ${RUNC} and ${BUSYBOX}`;
}

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdin: "null" }).output();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * Builds a rootfs of busybox at `dir`: `/bin/busybox` with every applet as a hard link
 * (masked paths bind /dev/null over files, and with symlinks that would hide busybox
 * itself).
 */
export async function buildBusyboxRootfs(dir: string): Promise<void> {
  for (const d of ["bin", "dev", "proc", "sys", "tmp", "etc", "root", "run"]) {
    await Deno.mkdir(`${dir}/${d}`, { recursive: true });
  }
  await Deno.copyFile(BUSYBOX, `${dir}/bin/busybox`);
  await Deno.chmod(`${dir}/bin/busybox`, 0o755);
  const applets = (await run(BUSYBOX, ["--list"])).split("\n").filter((a) => /^[\w.[-]+$/.test(a));
  for (const a of applets) {
    if (a === "busybox") continue;
    try {
      await Deno.link(`${dir}/bin/busybox`, `${dir}/bin/${a}`);
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  }
  await Deno.writeTextFile(`${dir}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
  await Deno.writeTextFile(`${dir}/etc/group`, "root:x:0:\ntty:x:5:\n");
}

/** What a test container runs. */
export interface BundleOptions {
  /** The container's command. */
  args: string[];
  /** `process.terminal`. */
  tty?: boolean;
  /** Extra `KEY=value` environment. */
  env?: string[];
  /** Memory limit in bytes (for OOM tests). */
  memoryLimit?: number;
  /** Share the host's PID namespace (orphans then re-parent to the shim). */
  hostPid?: boolean;
}

const CAPS = [...DEFAULT_CAPABILITIES];

/** An OCI runtime config for a busybox container. */
export function ociConfig(
  opts: BundleOptions & { rootfs: string; cgroupsPath: string; hostname?: string },
): Record<string, unknown> {
  const namespaces = [{ type: "ipc" }, { type: "uts" }, { type: "mount" }, { type: "network" }];
  if (!opts.hostPid) namespaces.unshift({ type: "pid" });
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: opts.tty ?? false,
      user: { uid: 0, gid: 0 },
      args: opts.args,
      env: ["PATH=/bin", "HOME=/root", ...(opts.tty ? ["TERM=xterm"] : []), ...(opts.env ?? [])],
      cwd: "/",
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: opts.rootfs, readonly: true },
    hostname: opts.hostname ?? "test",
    mounts: [
      ...defaultMounts(false),
      {
        destination: "/tmp",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "nodev", "mode=1777"],
      },
    ],
    linux: {
      cgroupsPath: opts.cgroupsPath,
      resources: {
        devices: [{ allow: false, access: "rwm" }],
        ...(opts.memoryLimit
          ? { memory: { limit: opts.memoryLimit, swap: opts.memoryLimit } }
          : {}),
      },
      namespaces,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
}

/**
 * A scratch area for one test file: a shared busybox rootfs, bundles, a runc root and a
 * cgroup parent of its own. {@link TestWorld.dispose} removes everything and fails when a
 * container was left behind.
 */
export class TestWorld {
  /** The scratch directory. */
  readonly dir: string;
  /** The shared rootfs. */
  readonly rootfs: string;
  /** `runc --root` for this world. */
  readonly runcRoot: string;
  /** The parent cgroup (under each v1 hierarchy root, or the unified one). */
  readonly cgroupParent: string;
  #n = 0;

  private constructor(dir: string) {
    this.dir = dir;
    this.rootfs = `${dir}/rootfs`;
    this.runcRoot = `${dir}/runc`;
    this.cgroupParent = `sauropod-test-${dir.split("-").pop()}`;
  }

  /** Creates the scratch area under /tmp. */
  static async create(): Promise<TestWorld> {
    const dir = await Deno.makeTempDir({ prefix: "sauropod-shim-" });
    const w = new TestWorld(dir);
    await buildBusyboxRootfs(w.rootfs);
    await Deno.mkdir(w.runcRoot);
    await Deno.mkdir(`${dir}/logs`);
    return w;
  }

  /** A fresh container id. */
  nextId(prefix = "c"): string {
    return `${prefix}${++this.#n}-${crypto.randomUUID().slice(0, 8)}`;
  }

  /** Writes a bundle for container `id`; returns its path. */
  async bundle(id: string, opts: BundleOptions): Promise<string> {
    const dir = `${this.dir}/bundles/${id}`;
    await Deno.mkdir(dir, { recursive: true });
    const config = ociConfig({
      ...opts,
      rootfs: this.rootfs,
      cgroupsPath: `/${this.cgroupParent}/${id}`,
    });
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config, null, 2));
    return dir;
  }

  /** A log path for `id` in this world. */
  logPath(id: string): string {
    return `${this.dir}/logs/${id}.log`;
  }

  /** Container ids runc still knows under this world's root. */
  async runcContainers(): Promise<string[]> {
    const out = await run(RUNC, ["--root", this.runcRoot, "list", "-q"]);
    return out.split("\n").filter((l) => l !== "");
  }

  /**
   * Force-deletes whatever runc still has, removes the cgroup parents and the scratch
   * directory. Throws (after cleaning up) when containers were left behind.
   */
  async dispose(): Promise<void> {
    const shims = processesMentioning(this.dir);
    for (const pid of shims) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    let leaked: string[] = [];
    try {
      leaked = await this.runcContainers();
    } catch {
      // runc root already gone
    }
    for (const id of leaked) {
      await run(RUNC, ["--root", this.runcRoot, "delete", "--force", id]).catch(() => {});
    }
    await removeCgroupTree(this.cgroupParent);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    if (leaked.length > 0) throw new Error(`runc containers leaked: ${leaked.join(", ")}`);
    if (shims.length > 0) throw new Error(`shim processes leaked: ${shims.join(", ")}`);
  }
}

/** Removes `/sys/fs/cgroup/<hierarchy>/<name>` (and empty children) in every hierarchy. */
export async function removeCgroupTree(name: string): Promise<void> {
  const roots: string[] = [];
  for await (const e of Deno.readDir("/sys/fs/cgroup")) {
    if (e.isDirectory) roots.push(`/sys/fs/cgroup/${e.name}`);
  }
  roots.push("/sys/fs/cgroup");
  for (const root of roots) {
    const dir = `${root}/${name}`;
    const children: string[] = [];
    try {
      for await (const e of Deno.readDir(dir)) if (e.isDirectory) children.push(`${dir}/${e.name}`);
    } catch {
      continue;
    }
    for (const c of children) await Deno.remove(c).catch(() => {});
    await Deno.remove(dir).catch(() => {});
  }
}

/** Pids of live (non-zombie) processes whose command line mentions `text`. */
export function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if (Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(text)) out.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** Pids of zombie children of `ppid`. */
export function zombieChildren(ppid: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z" && Number(rest[1]) === ppid) out.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
