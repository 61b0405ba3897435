/**
 * CheckpointContainer: the container's shim freezes it, has runc dump it with CRIU (the
 * container keeps running: `--leave-running`, as the kubelet's forensic checkpoint wants),
 * the agent records the writable layer's changes while it is still frozen, and thaws it
 * whatever happened. The archive (see `checkpoint/archive.ts`) is written beside `location`
 * and renamed into place, mode 0600: a failed dump leaves the container running as it was
 * and no archive.
 *
 * @module
 */
import { failedPrecondition, invalidArgument, messageOf, wrap } from "../../errors/mod.ts";
import type { RuntimeCore } from "../core.ts";
import type { Container } from "../records.ts";
import { containerStatusOf } from "../views.ts";
import {
  type ArchiveInput,
  type BindMountEntry,
  type ConfigDump,
  type CriuOptions,
  rfc3339Nano,
  writeArchive,
  writeRootfsDiff,
  ZERO_TIME,
} from "../../checkpoint/mod.ts";
import { IMAGE_NAME } from "../../oci/annotations.ts";
import { nowNs } from "../../lib/clock.ts";
import { mkdirPrivate } from "../modes.ts";
import { requireCheckpointCapability } from "./capability.ts";
import { criStatusJson, lastCriuErrors } from "./_json.ts";
import { recordedRuntime } from "../shim_runtime.ts";
import { beneathAny, plainAbsolute } from "../../config/mod.ts";

/** The kubelet's default when `timeout` is 0 (KEP-2008: the CRI default, 2 minutes). */
export const DEFAULT_CHECKPOINT_TIMEOUT_S = 120;

/** Mount destinations the runtime makes itself: never in `bind.mounts`. */
const RUNTIME_MOUNTS = new Set([
  "/dev",
  "/dev/shm",
  "/dev/pts",
  "/dev/mqueue",
  "/proc",
  "/sys",
  "/sys/fs/cgroup",
  "/run",
  "/etc/hosts",
  "/etc/hostname",
  "/etc/resolv.conf",
  "/dev/termination-log",
]);

interface OciMount {
  destination: string;
  source?: string;
  type?: string;
  options?: string[];
}

/** The CRIU options for container `c`: chosen per container, recorded in the archive. */
export function criuOptionsFor(c: Container): CriuOptions {
  return {
    // Harmless without connections (CRIU only locks the netns meanwhile), needed with them.
    tcpEstablished: true,
    // A unix socket whose peer is outside the container (a hostPath socket) is dumped as
    // external rather than failing the dump.
    extUnixSk: true,
    // A tty container's session has the shim's pty as controlling terminal.
    shellJob: c.config.tty,
    fileLocks: true,
  };
}

/**
 * Throws INVALID_ARGUMENT naming `field` and `runtime.checkpoint_roots` unless `path` lies
 * beneath one of those roots: the agent may write there and nowhere else, so an archive
 * elsewhere would fail halfway with Deno's advice instead of a clear refusal up front.
 */
export function checkCheckpointPath(core: RuntimeCore, path: string, field: string): void {
  const roots = core.config.runtime.checkpointRoots;
  const plain = plainAbsolute(path);
  if (plain === undefined || !beneathAny(plain, roots)) {
    throw invalidArgument(
      `${field} ${JSON.stringify(path)} is not an absolute path beneath the directories ` +
        `checkpoints may be written under (runtime.checkpoint_roots = ${JSON.stringify(roots)} ` +
        `in the agent's config): add one that holds it and restart the agent`,
    );
  }
}

/** Checkpoints container `containerId` into the archive `location`. */
export async function checkpointContainer(
  core: RuntimeCore,
  containerId: string,
  location: string,
  timeoutSeconds: number,
): Promise<void> {
  const c = core.container(containerId);
  await core.locks.run(c.doc.id, async () => {
    if (c.doc.state !== "running" || !c.shim) {
      throw failedPrecondition(
        `container "${c.doc.id}" is ${c.doc.state}: only a running container can be checkpointed`,
      );
    }
    checkCheckpointPath(core, location, "location");
    const dir = location.slice(0, location.lastIndexOf("/")) || "/";
    try {
      if (!(await Deno.stat(dir)).isDirectory) throw new Error("not a directory");
    } catch (err) {
      throw invalidArgument(`location: directory ${dir} does not exist (${messageOf(err)})`);
    }
    try {
      if ((await Deno.lstat(location)).isDirectory) {
        throw invalidArgument(`location: ${location} is a directory`);
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    // After the request's own checks, so that a wrong request hears what is wrong with it.
    await requireCheckpointCapability(core, "CheckpointContainer");
    const timeoutMs = (timeoutSeconds > 0 ? timeoutSeconds : DEFAULT_CHECKPOINT_TIMEOUT_S) * 1000;
    const work = `${core.config.root}/checkpoints/${c.doc.id}-${crypto.randomUUID().slice(0, 8)}`;
    await mkdirPrivate(work);
    try {
      await dumpInto(core, c, work, location, timeoutMs);
    } finally {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  });
}

/** Dumps `c` with its images in `work` and writes the archive at `location`. */
async function dumpInto(
  core: RuntimeCore,
  c: Container,
  work: string,
  location: string,
  timeoutMs: number,
): Promise<void> {
  const t0 = performance.now();
  // Frozen for the dump and the diff: the files walked are the files dumped.
  await c.shim!.pause();
  let input: ArchiveInput;
  try {
    input = await dumpFrozen(core, c, work, timeoutMs);
  } finally {
    await thaw(core, c);
  }
  const bytes = await writeArchive(location, input);
  core.log.info("container checkpointed", {
    containerId: c.doc.id,
    location,
    bytes,
    deleted: input.deleted.length,
    ms: Math.round(performance.now() - t0),
  });
}

/** Thaws `c` after a dump, whatever happened (a failure is logged: the caller's error wins). */
export async function thaw(core: RuntimeCore, c: Container): Promise<void> {
  await c.shim?.resume().catch((err) =>
    core.log.error("cannot thaw the container after its checkpoint", {
      containerId: c.doc.id,
      err,
    })
  );
}

/**
 * Dumps the frozen container `c` into `work` (`images/`, `criu/`, its log and rootfs diff)
 * and returns what its archive holds. The caller froze it and thaws it.
 */
export async function dumpFrozen(
  core: RuntimeCore,
  c: Container,
  work: string,
  timeoutMs: number,
): Promise<ArchiveInput> {
  const shim = c.shim!;
  const options = criuOptionsFor(c);
  const specBytes = await Deno.readFile(`${c.doc.bundle}/config.json`);
  const spec = JSON.parse(new TextDecoder().decode(specBytes)) as { mounts?: OciMount[] };
  const mounts = spec.mounts ?? [];
  const checkpointedAt = nowNs();
  await mkdirPrivate(`${work}/images`);
  await mkdirPrivate(`${work}/criu`);
  try {
    await shim.checkpoint({
      imagePath: `${work}/images`,
      workPath: `${work}/criu`,
      leaveRunning: true,
      timeoutMs,
      ...options,
    });
  } catch (err) {
    const criu = await lastCriuErrors(`${work}/criu/dump.log`);
    throw wrap(err, `cannot checkpoint container "${c.doc.id}"${criu ? ` (CRIU: ${criu})` : ""}`);
  }
  // The log as it was at the dump: the restored process continues from its last line.
  if (c.doc.logPath) {
    await Deno.copyFile(c.doc.logPath, `${work}/container.log`).catch(() => {});
  }
  let diff = { entries: 0, deleted: [] as string[] };
  if (c.doc.upperDir) {
    diff = await writeRootfsDiff(
      c.doc.upperDir,
      `${work}/rootfs-diff.tar`,
      mounts.map((m) => m.destination),
    );
  }
  const image = core.deps.images.resolve(c.doc.imageId);
  const config: ConfigDump = {
    id: c.doc.id,
    name: c.config.metadata?.name ?? "",
    rootfsImage: c.config.image?.userSpecifiedImage || c.doc.imageName,
    // containerd's form: repo@sha256 (pulled by it if absent), and a name that parses.
    rootfsImageRef: image?.repoDigests[0] ?? c.doc.imageRef,
    rootfsImageName: c.config.annotations[IMAGE_NAME] ?? image?.repoTags[0] ?? c.doc.imageName,
    runtime: recordedRuntime(core, c.doc.handler).binary.split("/").pop() ?? "runc",
    createdTime: rfc3339Nano(BigInt(c.doc.createdAtNs)),
    checkpointedTime: rfc3339Nano(checkpointedAt),
    restoredTime: ZERO_TIME,
    restored: false,
  };
  const bindMounts: BindMountEntry[] = [];
  for (const m of mounts) {
    if (m.type !== "bind" || !m.source || RUNTIME_MOUNTS.has(m.destination)) continue;
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(m.source);
    } catch {
      continue;
    }
    bindMounts.push({
      source: m.source,
      destination: m.destination,
      file_type: st.isDirectory ? "directory" : "file",
      permissions: (st.mode ?? 0) & 0o7777,
    });
  }
  return {
    imageDir: `${work}/images`,
    workDir: `${work}/criu`,
    config,
    spec: specBytes,
    status: criStatusJson(containerStatusOf(c)),
    options,
    ...(diff.entries > 0 ? { rootfsDiffTar: `${work}/rootfs-diff.tar` } : {}),
    deleted: diff.deleted,
    bindMounts,
    logPath: `${work}/container.log`,
  };
}
