/**
 * Reading a checkpoint archive for a restore. The archive is attacker input (anyone who can
 * put a file on the node and name it in CreateContainer): it is read with the image
 * layers' bounded tar reader (plain, gzip or zstd), only the members of the layout are
 * taken (regular files at the top, regular files directly under `checkpoint/`, names of
 * safe characters), each is created fresh beneath a new private directory on descriptors,
 * and every size and count is capped. Anything else is invalid-argument naming it; an
 * archive without `config.dump`, `spec.dump` and `checkpoint/inventory.img` is "not a
 * checkpoint archive".
 *
 * @module
 */
import { createReadStream } from "node:fs";
import * as zlib from "node:zlib";
import type { Readable } from "node:stream";
import { invalidArgument, wrap } from "../errors/mod.ts";
import {
  createFile,
  type Fd,
  O,
  openBeneath,
  openPath,
  readDirAll,
  readSync,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  statFd,
  writeAll,
} from "../ffi/beneath.ts";
import { TarReader } from "../image/mod.ts";
import { ARCHIVE, type BindMountEntry, type ConfigDump, type CriuOptions } from "./archive.ts";

/** Bounds of an archive read. */
export interface ReadLimits {
  /** All bytes unpacked (CRIU's memory pages dominate). */
  totalBytes: number;
  /** Members. */
  members: number;
  /** Each JSON file. */
  jsonBytes: number;
}

/** The bounds restores run with. */
export const READ_LIMITS: Readonly<ReadLimits> = Object.freeze({
  totalBytes: 16 * 2 ** 30,
  members: 100_000,
  jsonBytes: 4 << 20,
});

/** A checkpoint unpacked into a directory, its metadata checked. */
export interface Checkpoint {
  /** The directory holding the members (`checkpoint/` is CRIU's image dir). */
  dir: string;
  config: ConfigDump;
  /** The checkpointed container's config.json. */
  spec: OciSpecDump;
  /** The CRIU options to repeat (sauropod archives; others: CRI-O's defaults). */
  options: CriuOptions;
  deleted: string[];
  bindMounts: BindMountEntry[];
  /** Paths inside `dir`, when the archive has them. */
  rootfsDiff?: string;
  log?: string;
}

/** What a restore reads of `spec.dump`. */
export interface OciSpecDump {
  process?: { terminal?: boolean };
  mounts?: { destination: string; type?: string; source?: string }[];
  annotations?: Record<string, string>;
}

const TOP = new Set<string>([
  ARCHIVE.config,
  ARCHIVE.spec,
  ARCHIVE.status,
  ARCHIVE.rootfsDiff,
  ARCHIVE.deleted,
  ARCHIVE.bindMounts,
  ARCHIVE.log,
  ARCHIVE.dumpLog,
  ARCHIVE.stats,
  ARCHIVE.options,
  // CRI-O's name for the log; Podman's and containerd's extra files.
  "io.kubernetes.cri-o.LogPath",
  "network.status",
  "status",
]);
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

function decompressed(path: string, head: Uint8Array): Readable {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  if (head[0] === 0x1f && head[1] === 0x8b) return file.pipe(zlib.createGunzip());
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    return file.pipe(zlib.createZstdDecompress());
  }
  return file;
}

async function* chunks(stream: Readable): AsyncGenerator<Uint8Array> {
  for await (const c of stream) yield c as Uint8Array;
}

/** The member name a tar entry stands for, or why it is refused. */
function memberName(raw: string): { top: string; sub?: string } | undefined {
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.length === 1) return { top: parts[0]! };
  if (parts.length === 2) return { top: parts[0]!, sub: parts[1]! };
  return undefined;
}

function parseJson<T>(bytes: Uint8Array, name: string): T {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as T;
  } catch (err) {
    throw invalidArgument(`checkpoint ${name} is not valid JSON: ${String(err)}`);
  }
}

function checkConfig(v: unknown): ConfigDump {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw invalidArgument("checkpoint config.dump is not a JSON object");
  }
  const c = v as Record<string, unknown>;
  for (const k of ["id", "name"]) {
    if (typeof c[k] !== "string" || c[k] === "") {
      throw invalidArgument(`checkpoint config.dump has no "${k}"`);
    }
  }
  for (const k of ["rootfsImage", "rootfsImageRef", "rootfsImageName", "runtime"]) {
    if (c[k] !== undefined && typeof c[k] !== "string") {
      throw invalidArgument(`checkpoint config.dump "${k}" is not a string`);
    }
  }
  return c as unknown as ConfigDump;
}

function checkStrings(v: unknown, name: string): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw invalidArgument(`checkpoint ${name} is not a JSON array of strings`);
  }
  return v as string[];
}

/** One member of a checkpoint, from a tar or a directory. */
interface Member {
  path: string;
  type: string;
  size: number;
  body(): AsyncIterable<Uint8Array>;
}

async function* tarMembers(archive: string, limits: ReadLimits): AsyncGenerator<Member> {
  const head = new Uint8Array(4);
  {
    using f = await Deno.open(archive, { read: true });
    await f.read(head);
  }
  const stream = decompressed(archive, head);
  try {
    const reader = new TarReader(chunks(stream), { archiveBytes: limits.totalBytes + (1 << 20) });
    for (let e = await reader.next(); e; e = await reader.next()) {
      yield { path: e.path, type: e.type, size: e.size, body: () => reader.body() };
    }
  } catch (err) {
    if (
      err instanceof Error && !(err as { kind?: string }).kind &&
      /header|compress|invalid|unexpected end/i.test(err.message)
    ) {
      throw invalidArgument(`checkpoint archive ${archive} is not a tar archive: ${err.message}`);
    }
    throw err;
  } finally {
    stream.destroy();
  }
}

function typeOf(mode: number): string {
  const t = mode & S_IFMT;
  return t === S_IFREG ? "file" : t === S_IFDIR ? "dir" : t === S_IFLNK ? "symlink" : "special";
}

/**
 * The members of a checkpoint directory (a pod checkpoint's per-container folder), each
 * opened beneath it on descriptors without following a symlink, non-blocking (a fifo put
 * there does not hang the agent), its type taken from the opened file.
 */
async function* dirMembers(dir: string): AsyncGenerator<Member> {
  using root = openPath(dir);
  async function* level(at: Fd, prefix: string, depth: number): AsyncGenerator<Member> {
    for (const e of readDirAll(at)) {
      let f: Fd;
      try {
        f = openBeneath(at, e.name, O.RDONLY | O.NOFOLLOW | O.NONBLOCK);
      } catch {
        yield { path: `${prefix}${e.name}`, type: "symlink", size: 0, body: async function* () {} };
        continue;
      }
      try {
        const st = statFd(f);
        const type = typeOf(st.mode);
        if (type === "dir" && depth === 0) {
          yield { path: `${prefix}${e.name}/`, type, size: 0, body: async function* () {} };
          yield* level(f, `${prefix}${e.name}/`, 1);
          continue;
        }
        yield {
          path: `${prefix}${e.name}`,
          type,
          size: st.size,
          body: async function* () {
            const buf = new Uint8Array(1 << 20);
            let left = st.size;
            while (left > 0) {
              const n = readSync(f, buf.subarray(0, Math.min(buf.length, left)));
              if (n === 0) break;
              left -= n;
              yield buf.slice(0, n);
            }
          },
        };
      } finally {
        f.close();
      }
    }
  }
  yield* level(root, "", 0);
}

/**
 * Unpacks the archive at `archive` into `dest` (created 0700; must not exist) and checks
 * its metadata. On failure the caller removes `dest`.
 */
export async function readCheckpointArchive(
  archive: string,
  dest: string,
  limits: ReadLimits = READ_LIMITS,
): Promise<Checkpoint> {
  const st = await Deno.stat(archive).catch((err) => {
    throw wrap(err, `checkpoint archive ${archive}`);
  });
  if (!st.isFile) throw invalidArgument(`checkpoint archive ${archive} is not a regular file`);
  return await collect(tarMembers(archive, limits), `checkpoint archive ${archive}`, dest, limits);
}

/**
 * Copies the unpacked checkpoint in directory `dir` (CheckpointPod's per-container folder)
 * into `dest`, with the same checks as an archive.
 */
export async function readCheckpointDir(
  dir: string,
  dest: string,
  limits: ReadLimits = READ_LIMITS,
): Promise<Checkpoint> {
  return await collect(dirMembers(dir), `checkpoint directory ${dir}`, dest, limits);
}

async function collect(
  source: AsyncIterable<Member>,
  archive: string,
  dest: string,
  limits: ReadLimits,
): Promise<Checkpoint> {
  await Deno.mkdir(dest, { mode: 0o700 });
  await Deno.mkdir(`${dest}/${ARCHIVE.checkpointDir}`, { mode: 0o700 });
  using root = openPath(dest);
  using images = openPath(`${dest}/${ARCHIVE.checkpointDir}`);
  const json = new Map<string, Uint8Array>();
  const seen = new Set<string>();
  let total = 0;
  let members = 0;
  try {
    for await (const e of source) {
      if (++members > limits.members) {
        throw invalidArgument(`checkpoint archive has more than ${limits.members} members`);
      }
      const name = memberName(e.path);
      const quoted = JSON.stringify(e.path.slice(0, 200));
      if (!name || !SAFE_NAME.test(name.top) || (name.sub && !SAFE_NAME.test(name.sub))) {
        throw invalidArgument(`checkpoint archive member ${quoted} is not part of a checkpoint`);
      }
      if (e.type === "dir") {
        if (name.top !== ARCHIVE.checkpointDir || name.sub) {
          throw invalidArgument(`checkpoint archive member ${quoted} is not part of a checkpoint`);
        }
        continue;
      }
      if (e.type !== "file") {
        throw invalidArgument(`checkpoint archive member ${quoted} is a ${e.type}, not a file`);
      }
      const inImages = name.top === ARCHIVE.checkpointDir && name.sub !== undefined;
      if (!inImages && (name.sub || !TOP.has(name.top))) {
        throw invalidArgument(`checkpoint archive member ${quoted} is not part of a checkpoint`);
      }
      const key = inImages ? `${name.top}/${name.sub}` : name.top;
      if (seen.has(key)) throw invalidArgument(`checkpoint archive member ${quoted} appears twice`);
      seen.add(key);
      total += e.size;
      if (total > limits.totalBytes) {
        throw invalidArgument(`checkpoint archive holds more than ${limits.totalBytes} bytes`);
      }
      const isJson = !inImages &&
        [ARCHIVE.config, ARCHIVE.spec, ARCHIVE.deleted, ARCHIVE.bindMounts, ARCHIVE.options]
          .includes(name.top as typeof ARCHIVE.config);
      if (isJson && e.size > limits.jsonBytes) {
        throw invalidArgument(`checkpoint ${name.top} is larger than ${limits.jsonBytes} bytes`);
      }
      // createFile is O_CREAT|O_EXCL beneath the fresh directory: no link is followed.
      using out = await createFile(inImages ? images : root, inImages ? name.sub! : name.top);
      const kept: Uint8Array[] = [];
      for await (const chunk of e.body()) {
        await writeAll(out, chunk);
        if (isJson) kept.push(chunk.slice());
      }
      if (isJson) {
        const all = new Uint8Array(kept.reduce((n, c) => n + c.length, 0));
        let off = 0;
        for (const c of kept) {
          all.set(c, off);
          off += c.length;
        }
        json.set(name.top, all);
      }
    }
  } catch (err) {
    throw wrap(err, archive);
  }
  for (const need of [ARCHIVE.config, ARCHIVE.spec, `${ARCHIVE.checkpointDir}/inventory.img`]) {
    if (!seen.has(need)) {
      throw invalidArgument(`${archive} is not a checkpoint: it has no ${need}`);
    }
  }
  const config = checkConfig(parseJson(json.get(ARCHIVE.config)!, ARCHIVE.config));
  const spec = parseJson<OciSpecDump>(json.get(ARCHIVE.spec)!, ARCHIVE.spec);
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    throw invalidArgument("checkpoint spec.dump is not a JSON object");
  }
  const deleted = json.has(ARCHIVE.deleted)
    ? checkStrings(parseJson(json.get(ARCHIVE.deleted)!, ARCHIVE.deleted), ARCHIVE.deleted)
    : [];
  const bindMounts = json.has(ARCHIVE.bindMounts)
    ? parseJson<BindMountEntry[]>(json.get(ARCHIVE.bindMounts)!, ARCHIVE.bindMounts)
    : [];
  if (!Array.isArray(bindMounts)) throw invalidArgument("checkpoint bind.mounts is not an array");
  const opts = json.has(ARCHIVE.options)
    ? parseJson<Record<string, unknown>>(json.get(ARCHIVE.options)!, ARCHIVE.options)
    : {};
  const flag = (k: string, def: boolean) => typeof opts[k] === "boolean" ? opts[k] as boolean : def;
  const terminal = spec.process?.terminal === true;
  const options: CriuOptions = {
    // CRI-O's and containerd's archives say nothing: CRI-O always dumps file locks.
    tcpEstablished: flag("tcpEstablished", false),
    extUnixSk: flag("extUnixSk", false),
    shellJob: flag("shellJob", terminal),
    fileLocks: flag("fileLocks", true),
  };
  const log = seen.has(ARCHIVE.log)
    ? `${dest}/${ARCHIVE.log}`
    : seen.has("io.kubernetes.cri-o.LogPath")
    ? `${dest}/io.kubernetes.cri-o.LogPath`
    : undefined;
  return {
    dir: dest,
    config,
    spec,
    options,
    deleted,
    bindMounts,
    ...(seen.has(ARCHIVE.rootfsDiff) ? { rootfsDiff: `${dest}/${ARCHIVE.rootfsDiff}` } : {}),
    ...(log ? { log } : {}),
  };
}
