/**
 * The container checkpoint archive, in the layout the kubelet, checkpointctl, CRI-O and
 * containerd know (checkpointctl `lib/metadata.go`):
 *
 *   checkpoint/       CRIU's images and runc's descriptors.json
 *   config.dump       checkpointctl's ContainerConfig (JSON)
 *   spec.dump         the container's config.json, verbatim
 *   status.dump       the CRI ContainerStatus, snake_case (containerd's restore needs it)
 *   rootfs-diff.tar   writable-layer changes (plain tar, CRI-O's form)   [when any]
 *   deleted.files     JSON array of deleted container paths                [when any]
 *   bind.mounts       CRI-O's bind mount list                              [when any]
 *   container.log     the CRI log at checkpoint time
 *   dump.log          CRIU's log
 *   stats-dump        CRIU's own stats file, byte for byte (checkpointctl --stats)
 *   sauropod.options  the CRIU options the dump used, for the restore to repeat
 *
 * An uncompressed tar, mode 0600 (it holds process memory), built beside `location` and
 * renamed into place: a failure leaves no partial archive.
 *
 * @module
 */
import { TarWriter } from "./_tar_writer.ts";

/** checkpointctl's ContainerConfig (`config.dump`). */
export interface ConfigDump {
  id: string;
  name: string;
  rootfsImage?: string;
  rootfsImageRef?: string;
  rootfsImageName?: string;
  runtime?: string;
  /** RFC 3339 with nanoseconds (Go's time.Time). */
  createdTime: string;
  checkpointedTime?: string;
  restoredTime?: string;
  restored?: boolean;
}

/** The CRIU options a dump ran with; the restore passes the same. */
export interface CriuOptions {
  tcpEstablished: boolean;
  extUnixSk: boolean;
  shellJob: boolean;
  fileLocks: boolean;
}

/** One `bind.mounts` entry (CRI-O). */
export interface BindMountEntry {
  source: string;
  destination: string;
  file_type: "directory" | "file";
  permissions: number;
}

/** Go's zero time, as `config.dump` writes unset times. */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

/** File names inside the archive. */
export const ARCHIVE = {
  checkpointDir: "checkpoint",
  config: "config.dump",
  spec: "spec.dump",
  status: "status.dump",
  rootfsDiff: "rootfs-diff.tar",
  deleted: "deleted.files",
  bindMounts: "bind.mounts",
  log: "container.log",
  dumpLog: "dump.log",
  stats: "stats-dump",
  options: "sauropod.options",
} as const;

/** Nanoseconds since the epoch → RFC 3339 with nanoseconds, UTC (Go's time.Time JSON). */
export function rfc3339Nano(ns: bigint): string {
  if (ns <= 0n) return ZERO_TIME;
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0").replace(/0+$/, "");
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, frac ? `.${frac}Z` : "Z");
}

/** What goes into one container's archive. */
export interface ArchiveInput {
  /** The CRIU image directory (runc's --image-path). */
  imageDir: string;
  /** runc's --work-path: dump.log and stats-dump come from it when present. */
  workDir: string;
  config: ConfigDump;
  /** config.json's bytes. */
  spec: Uint8Array;
  status: Record<string, unknown>;
  options: CriuOptions;
  /** A written rootfs-diff.tar, if there were changes. */
  rootfsDiffTar?: string;
  deleted: string[];
  bindMounts: BindMountEntry[];
  /** The CRI log, if the container has one. */
  logPath?: string;
}

const enc = new TextEncoder();

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Where the members go: a tar, or a directory (a pod checkpoint). */
interface MemberSink {
  dir(name: string): Promise<void>;
  data(name: string, bytes: Uint8Array): Promise<void>;
  file(name: string, path: string): Promise<void>;
}

function tarSink(tar: TarWriter): MemberSink {
  const mtime = Date.now() / 1000;
  return {
    dir: (name) => tar.add({ name, type: "dir", mode: 0o700, mtime }),
    data: (name, bytes) => tar.add({ name, type: "file", mode: 0o600, mtime }, bytes),
    file: (name, path) => tar.addFile({ name, mode: 0o600, mtime }, path),
  };
}

function dirSink(root: string): MemberSink {
  return {
    dir: (name) => Deno.mkdir(`${root}/${name}`, { mode: 0o700 }),
    data: (name, bytes) =>
      Deno.writeFile(`${root}/${name}`, bytes, { createNew: true, mode: 0o600 }),
    file: async (name, path) => {
      await Deno.copyFile(path, `${root}/${name}`);
      await Deno.chmod(`${root}/${name}`, 0o600);
    },
  };
}

/** Writes the members of `a` to `sink`. */
async function writeMembers(sink: MemberSink, a: ArchiveInput): Promise<void> {
  const json = (v: unknown) => enc.encode(JSON.stringify(v));
  await sink.dir(ARCHIVE.checkpointDir);
  const images: string[] = [];
  for await (const e of Deno.readDir(a.imageDir)) if (e.isFile) images.push(e.name);
  for (const name of images.sort()) {
    await sink.file(`${ARCHIVE.checkpointDir}/${name}`, `${a.imageDir}/${name}`);
  }
  await sink.data(ARCHIVE.config, json(a.config));
  await sink.data(ARCHIVE.spec, a.spec);
  await sink.data(ARCHIVE.status, json(a.status));
  await sink.data(ARCHIVE.options, json(a.options));
  if (a.rootfsDiffTar) await sink.file(ARCHIVE.rootfsDiff, a.rootfsDiffTar);
  if (a.deleted.length) await sink.data(ARCHIVE.deleted, json(a.deleted));
  if (a.bindMounts.length) await sink.data(ARCHIVE.bindMounts, json(a.bindMounts));
  if (a.logPath && (await exists(a.logPath))) await sink.file(ARCHIVE.log, a.logPath);
  for (const name of [ARCHIVE.dumpLog, ARCHIVE.stats]) {
    const p = `${a.workDir}/${name}`;
    if (await exists(p)) await sink.file(name, p);
  }
}

/**
 * Writes the members of `a` unpacked into the new directory `dir` (0700): a pod checkpoint
 * keeps one per container. On failure the caller removes `dir`.
 */
export async function writeArchiveDir(dir: string, a: ArchiveInput): Promise<void> {
  await Deno.mkdir(dir, { mode: 0o700 });
  await writeMembers(dirSink(dir), a);
}

/**
 * Writes the archive of `a` to `location` atomically: a 0600 temp file in the same
 * directory, synced and renamed over `location`; removed on any failure.
 */
export async function writeArchive(location: string, a: ArchiveInput): Promise<number> {
  const dir = location.slice(0, location.lastIndexOf("/")) || "/";
  const base = location.slice(location.lastIndexOf("/") + 1);
  const tmp = `${dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    let bytes = 0;
    {
      await using file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
      const tar = new TarWriter(file);
      await writeMembers(tarSink(tar), a);
      await tar.finish();
      await file.syncData();
      bytes = tar.bytes;
    }
    await Deno.rename(tmp, location);
    return bytes;
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}
