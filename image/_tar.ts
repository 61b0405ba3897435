/**
 * A streaming tar reader: ustar, GNU (`L`/`K` long names, base-256 numbers) and PAX
 * (`x` records, `SCHILY.xattr.*` and `LIBARCHIVE.xattr.*` extended attributes).
 *
 * It never holds more than the decompressor's current chunk and one extended header:
 * entry bodies are yielded as views into the incoming chunks. Malformed input (bad
 * checksum, truncated stream, a body longer than the archive) fails with an
 * invalid-argument error that says where.
 *
 * Extended headers follow Go's `archive/tar`, which is what containerd and CRI-O unpack
 * with, so a layer gives the same tree here as there:
 * - a PAX `x` header applies to the next member only; a second `x` header before that
 *   member replaces the first (it is not merged);
 * - PAX `g` (global) headers are read and checked, then ignored: Go hands them to the
 *   caller as a member of their own and containerd's and CRI-O's appliers skip it. So
 *   they cost the reader nothing per later member;
 * - a GNU `L`/`K` long name wins over a PAX `path`/`linkpath`.
 *
 * Bounds ({@link TAR_LIMITS}): every size and count an archive controls is capped, so a
 * layer of N members costs O(N) time and memory whatever its headers say. Exceeding one
 * is invalid-argument naming the member (or the header after the last member) and the
 * bound.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";

/** What an entry is. */
export type EntryType = "file" | "dir" | "symlink" | "hardlink" | "char" | "block" | "fifo";

/** One archive member, after PAX and GNU long-name records have been folded in. */
export interface TarEntry {
  /** The member name exactly as archived (not normalised). */
  path: string;
  type: EntryType;
  /** Permission bits including setuid, setgid and sticky (`mode & 0o7777`). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of body that follow (0 for everything but regular files). */
  size: number;
  /** Modification time in seconds since the epoch, with a fraction from PAX. */
  mtime: number;
  /** Access time when the archive records one (PAX or GNU). */
  atime?: number;
  /** Symlink target, or the member a hardlink points to. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** Extended attributes from PAX records, raw bytes. */
  xattrs?: Map<string, Uint8Array>;
}

const BLOCK = 512;
const EMPTY = new Uint8Array(0);
const utf8 = new TextDecoder("utf-8");
const encoder = new TextEncoder();

function utf8Length(s: string): number {
  return encoder.encode(s).length;
}

const TYPE_OF: Record<string, EntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
  "D": "dir", // GNU dumpdir: a directory whose body lists its contents; we skip the body.
};

/** Byte offsets of the header fields (POSIX ustar; GNU reuses the prefix area). */
const F = {
  name: [0, 100],
  mode: [100, 108],
  uid: [108, 116],
  gid: [116, 124],
  size: [124, 136],
  mtime: [136, 148],
  chksum: [148, 156],
  typeflag: [156, 157],
  linkname: [157, 257],
  magic: [257, 263],
  version: [263, 265],
  devmajor: [329, 337],
  devminor: [337, 345],
  prefix: [345, 500],
  gnuAtime: [345, 357],
} as const;

function field(h: Uint8Array, f: readonly [number, number]): Uint8Array {
  return h.subarray(f[0], f[1]);
}

/** A NUL-terminated string field. */
function str(b: Uint8Array): string {
  const end = b.indexOf(0);
  return utf8.decode(end === -1 ? b : b.subarray(0, end));
}

/** A numeric field: octal ASCII, or GNU base-256 when the high bit of the first byte is set. */
export function parseNumeric(b: Uint8Array, name: string): number {
  if (b.length > 0 && (b[0]! & 0x80) !== 0) {
    if (b[0] === 0xff) throw invalidArgument(`tar header: negative ${name}`);
    let n = b[0]! & 0x7f;
    for (let i = 1; i < b.length; i++) {
      n = n * 256 + b[i]!;
      if (n > Number.MAX_SAFE_INTEGER) throw invalidArgument(`tar header: ${name} too large`);
    }
    return n;
  }
  let i = 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0)) i++; // leading spaces/NULs
  let n = 0;
  let digits = 0;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) {
      throw invalidArgument(`tar header: ${name} field is not octal`);
    }
    n = n * 8 + (c - 0x30);
    digits++;
  }
  for (; i < b.length; i++) {
    if (b[i] !== 0x20 && b[i] !== 0) {
      throw invalidArgument(`tar header: ${name} field is not octal`);
    }
  }
  return digits === 0 ? 0 : n;
}

function checksumOk(h: Uint8Array): boolean {
  const want = parseNumeric(field(h, F.chksum), "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= F.chksum[0] && i < F.chksum[1] ? 0x20 : h[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

function isZeroBlock(h: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (h[i] !== 0) return false;
  return true;
}

/**
 * Bounds on what an archive's extended headers may make the reader hold or do.
 *
 * - `headerBytes`: data of one extended header (PAX `x`/`g`, GNU `L`/`K`): 1 MiB, Go's
 *   `maxSpecialFileSize` (so containerd refuses the same headers).
 * - `archiveBytes`, `archiveRecords`: all extended header data and PAX records of one
 *   layer: 256 MiB and 8 Mi records. Go sets no total; these are far above real layers
 *   (a PAX header carries a long path, fractional times, a few xattrs: a few hundred bytes
 *   and records, and the largest public layers hold a few hundred thousand members), so
 *   a million members each with a 256-byte header and 8 records still fit. They bound the
 *   work a small compressed layer can demand: gzip inflates up to ~1000×.
 * - `nameBytes`: a member's path or link target: 4096 bytes, the kernel's `PATH_MAX`
 *   (containerd fails on longer ones at the system call).
 * - `xattrNameBytes`, `xattrValueBytes`: 255 and 65536 bytes, the kernel's
 *   `XATTR_NAME_MAX` and `XATTR_SIZE_MAX`.
 */
export interface TarLimits {
  headerBytes: number;
  archiveBytes: number;
  archiveRecords: number;
  nameBytes: number;
  xattrNameBytes: number;
  xattrValueBytes: number;
}

/** The bounds every layer is read with (see {@link TarLimits}). */
export const TAR_LIMITS: Readonly<TarLimits> = Object.freeze({
  headerBytes: 1 << 20,
  archiveBytes: 256 << 20,
  archiveRecords: 8 << 20,
  nameBytes: 4096,
  xattrNameBytes: 255,
  xattrValueBytes: 1 << 16,
});

/** Work the reader has done so far (tests assert on it; it never depends on timing). */
export interface TarStats {
  /** Members returned by `next()`. */
  members: number;
  /** Extended headers read (`x`, `g`, `L`, `K`). */
  extendedHeaders: number;
  /** Bytes of extended header data read. */
  extendedBytes: number;
  /** PAX records read, in `x` and `g` headers. */
  records: number;
  /** PAX records applied to members (at most the records of their own `x` header). */
  recordsApplied: number;
}

/** A short, escaped rendering of a name from an archive for an error message. */
export function quoteName(s: string): string {
  return JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);
}

/**
 * Walks the PAX records of `data` (`"%d %s=%s\n"`, the length counting the whole record),
 * calling `each` with the offsets of the key and the value. Returns the record count.
 * Checks the framing only; keys and values stay bytes.
 */
function scanPax(
  data: Uint8Array,
  each?: (keyStart: number, eq: number, end: number) => void,
): number {
  let i = 0;
  let n = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the last record
    let len = 0;
    let j = i;
    for (; j < data.length && j - i < 8; j++) {
      const c = data[j]!;
      if (c < 0x30 || c > 0x39) break;
      len = len * 10 + (c - 0x30);
    }
    if (j === i || data[j] !== 0x20) throw invalidArgument("tar: malformed PAX record (no length)");
    if (len <= j - i + 1 || i + len > data.length) {
      throw invalidArgument("tar: malformed PAX record length");
    }
    const end = i + len - 1; // the newline
    if (data[end] !== 0x0a) throw invalidArgument("tar: PAX record not newline-ended");
    const keyStart = j + 1;
    const eq = data.indexOf(0x3d, keyStart);
    if (eq <= keyStart || eq > end) throw invalidArgument("tar: malformed PAX record (no key)");
    each?.(keyStart, eq, end);
    n++;
    i += len;
  }
  return n;
}

/** PAX records (key → value bytes; a later record of a key wins, as in Go) and their count. */
function readPax(data: Uint8Array): { records: Map<string, Uint8Array>; count: number } {
  const records = new Map<string, Uint8Array>();
  const count = scanPax(data, (k, eq, end) => {
    records.set(utf8.decode(data.subarray(k, eq)), data.subarray(eq + 1, end));
  });
  return { records, count };
}

/** PAX records: key → value bytes (a later record of a key wins, as in Go). */
export function parsePax(data: Uint8Array): Map<string, Uint8Array> {
  return readPax(data).records;
}

function paxTime(v: Uint8Array, key: string): number {
  const s = utf8.decode(v);
  if (!/^-?\d+(\.\d+)?$/.test(s)) {
    throw invalidArgument(`tar: PAX ${key} ${quoteName(s)} is not a time`);
  }
  return Number(s);
}

function paxInt(v: Uint8Array, key: string): number {
  const s = utf8.decode(v);
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) {
    throw invalidArgument(`tar: PAX ${key} ${quoteName(s)} is not a number`);
  }
  return n;
}

/** A PAX `path` or `linkpath`: a NUL in it is invalid (Go's `validPAXRecord`). */
function paxName(v: Uint8Array, key: string): string {
  if (v.indexOf(0) !== -1) throw invalidArgument(`tar: PAX ${key} contains a NUL byte`);
  return utf8.decode(v);
}

function base64Decode(s: string, member: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    throw invalidArgument(
      `tar: member ${quoteName(member)} has a malformed LIBARCHIVE.xattr value`,
    );
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Reads entries one at a time: `next()` returns the next entry (or `null` at the end),
 * `body()` streams the current entry's bytes. Unread body bytes are skipped by `next()`.
 */
export class TarReader {
  readonly #src: AsyncIterator<Uint8Array>;
  #buf: Uint8Array = EMPTY;
  #off = 0;
  #remaining = 0;
  #padding = 0;
  #ended = false;
  readonly #scratch = new Uint8Array(BLOCK);
  readonly #limits: TarLimits;
  readonly #stats: TarStats = {
    members: 0,
    extendedHeaders: 0,
    extendedBytes: 0,
    records: 0,
    recordsApplied: 0,
  };
  /** The last member's name (for error messages). */
  #last = "";

  /**
   * Reads from `source`, an iterable of (decompressed) byte chunks, within `limits`
   * (defaults: {@link TAR_LIMITS}; tests lower them).
   */
  constructor(source: AsyncIterable<Uint8Array>, limits: Partial<TarLimits> = {}) {
    this.#src = source[Symbol.asyncIterator]();
    this.#limits = { ...TAR_LIMITS, ...limits };
  }

  /** Work done so far. */
  get stats(): Readonly<TarStats> {
    return { ...this.#stats };
  }

  #where(): string {
    const n = this.#stats.members;
    return n === 0 ? "the start" : `member ${n} (${quoteName(this.#last)})`;
  }

  async #fill(): Promise<boolean> {
    while (this.#off >= this.#buf.length) {
      const r = await this.#src.next();
      if (r.done) return false;
      this.#buf = r.value;
      this.#off = 0;
    }
    return true;
  }

  /** Exactly `BLOCK` bytes, or `undefined` at a clean end of input. */
  async #block(): Promise<Uint8Array | undefined> {
    if (!(await this.#fill())) return undefined;
    if (this.#buf.length - this.#off >= BLOCK) {
      const b = this.#buf.subarray(this.#off, this.#off + BLOCK);
      this.#off += BLOCK;
      return b;
    }
    let got = 0;
    while (got < BLOCK) {
      if (!(await this.#fill())) {
        throw invalidArgument(`tar: archive truncated in a header after ${this.#where()}`);
      }
      const n = Math.min(BLOCK - got, this.#buf.length - this.#off);
      this.#scratch.set(this.#buf.subarray(this.#off, this.#off + n), got);
      got += n;
      this.#off += n;
    }
    return this.#scratch;
  }

  async #skip(n: number, what: string): Promise<void> {
    while (n > 0) {
      if (!(await this.#fill())) throw invalidArgument(`tar: truncated ${what}`);
      const k = Math.min(n, this.#buf.length - this.#off);
      this.#off += k;
      n -= k;
    }
  }

  /**
   * Reads the data of an extended header (PAX or GNU long name) into one buffer, within
   * the per-header and per-archive bounds.
   */
  async #readData(size: number, what: string): Promise<Uint8Array> {
    const l = this.#limits;
    if (size > l.headerBytes) {
      throw invalidArgument(
        `tar: ${what} after ${this.#where()} is ${size} bytes, over the limit of ` +
          `${l.headerBytes} bytes per extended header`,
      );
    }
    const st = this.#stats;
    st.extendedHeaders++;
    st.extendedBytes += size;
    if (st.extendedBytes > l.archiveBytes) {
      throw invalidArgument(
        `tar: ${what} after ${this.#where()} takes the layer's extended headers over the ` +
          `limit of ${l.archiveBytes} bytes per layer`,
      );
    }
    const out = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      if (!(await this.#fill())) throw invalidArgument(`tar: truncated ${what}`);
      const n = Math.min(size - got, this.#buf.length - this.#off);
      out.set(this.#buf.subarray(this.#off, this.#off + n), got);
      got += n;
      this.#off += n;
    }
    await this.#skip((BLOCK - (size % BLOCK)) % BLOCK, what);
    return out;
  }

  /** Counts `n` more PAX records against the archive's bound. */
  #countRecords(n: number, what: string): void {
    const st = this.#stats;
    st.records += n;
    if (st.records > this.#limits.archiveRecords) {
      throw invalidArgument(
        `tar: ${what} after ${this.#where()} takes the layer over the limit of ` +
          `${this.#limits.archiveRecords} PAX records per layer`,
      );
    }
  }

  /** The next entry, or `null` after the end-of-archive marker (or a clean end of input). */
  async next(): Promise<TarEntry | null> {
    if (this.#ended) return null;
    if (this.#remaining + this.#padding > 0) {
      await this.#skip(this.#remaining + this.#padding, `body of ${quoteName(this.#last)}`);
      this.#remaining = 0;
      this.#padding = 0;
    }
    // The data of the member's `x` header, parsed (once) when the member comes: a header a
    // later one replaces is checked and counted, never turned into a map.
    let pax: Uint8Array | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const h = await this.#block();
      if (h === undefined) {
        if (pax || longName || longLink) {
          throw invalidArgument("tar: archive ends after an extended header");
        }
        this.#ended = true;
        return null;
      }
      if (isZeroBlock(h)) {
        this.#ended = true;
        return null;
      }
      if (!checksumOk(h)) {
        throw invalidArgument(`tar: header checksum mismatch after ${this.#where()}`);
      }
      const flag = String.fromCharCode(h[F.typeflag[0]]!);
      const size = parseNumeric(field(h, F.size), "size");
      switch (flag) {
        case "x": {
          // Replaces an earlier `x` header for the same member, as Go's reader does; the
          // replaced one is only checked and counted.
          const data = await this.#readData(size, "PAX header");
          if (pax) this.#countRecords(scanPax(pax), "PAX header");
          pax = data;
          continue;
        }
        case "g":
          // Checked and counted, never applied (see the module doc).
          this.#countRecords(
            scanPax(await this.#readData(size, "PAX global header")),
            "PAX global header",
          );
          continue;
        case "L":
          longName = str(await this.#readData(size, "GNU long name"));
          continue;
        case "K":
          longLink = str(await this.#readData(size, "GNU long link name"));
          continue;
      }
      const type = TYPE_OF[flag];
      if (type === undefined) {
        const name = longName ?? str(field(h, F.name));
        if (flag === "S") {
          throw invalidArgument(`tar: GNU sparse member ${quoteName(name)} not supported`);
        }
        throw invalidArgument(
          `tar: member ${quoteName(name)} has unsupported type ${JSON.stringify(flag)}`,
        );
      }
      let records: Map<string, Uint8Array> | undefined;
      if (pax) {
        const read = readPax(pax);
        this.#countRecords(read.count, "PAX header");
        records = read.records;
      }
      return this.#entry(h, type, flag, size, records, longName, longLink);
    }
  }

  #entry(
    h: Uint8Array,
    type: EntryType,
    flag: string,
    headerSize: number,
    localPax: Map<string, Uint8Array> | undefined,
    longName: string | undefined,
    longLink: string | undefined,
  ): TarEntry {
    const magic = str(field(h, F.magic));
    const ustar = magic === "ustar" && str(field(h, F.version)) === "00";
    const gnu = magic === "ustar " || (magic === "ustar" && !ustar);
    let path = str(field(h, F.name));
    if (ustar) {
      const prefix = str(field(h, F.prefix));
      if (prefix !== "") path = `${prefix}/${path}`;
    }
    const e: TarEntry = {
      path,
      type,
      mode: parseNumeric(field(h, F.mode), "mode") & 0o7777,
      uid: parseNumeric(field(h, F.uid), "uid"),
      gid: parseNumeric(field(h, F.gid), "gid"),
      size: headerSize,
      mtime: parseNumeric(field(h, F.mtime), "mtime"),
      linkname: str(field(h, F.linkname)),
      devmajor: 0,
      devminor: 0,
    };
    if (gnu) {
      const at = parseNumeric(field(h, F.gnuAtime), "atime");
      if (at > 0) e.atime = at;
    }
    if (type === "char" || type === "block") {
      e.devmajor = parseNumeric(field(h, F.devmajor), "devmajor");
      e.devminor = parseNumeric(field(h, F.devminor), "devminor");
    }
    if (localPax) {
      this.#stats.recordsApplied += localPax.size;
      for (const [k, v] of localPax) {
        switch (k) {
          case "path":
            e.path = paxName(v, k);
            break;
          case "linkpath":
            e.linkname = paxName(v, k);
            break;
          case "size":
            e.size = paxInt(v, k);
            break;
          case "uid":
            e.uid = paxInt(v, k);
            break;
          case "gid":
            e.gid = paxInt(v, k);
            break;
          case "mtime":
            e.mtime = paxTime(v, k);
            break;
          case "atime":
            e.atime = paxTime(v, k);
            break;
          default:
            if (k.startsWith("SCHILY.xattr.")) {
              this.#xattr(e, k.slice("SCHILY.xattr.".length), v);
            } else if (k.startsWith("LIBARCHIVE.xattr.")) {
              const name = k.slice("LIBARCHIVE.xattr.".length);
              let decoded: string;
              try {
                decoded = decodeURIComponent(name);
              } catch {
                throw invalidArgument(
                  `tar: member ${quoteName(e.path)} has a malformed LIBARCHIVE.xattr name`,
                );
              }
              this.#xattr(e, decoded, base64Decode(utf8.decode(v), e.path));
            } else if (k.startsWith("GNU.sparse.")) {
              throw invalidArgument(`tar: GNU sparse member ${quoteName(e.path)} not supported`);
            }
        }
      }
    }
    // GNU long names win over PAX ones, as in Go's reader.
    if (longName !== undefined) e.path = longName;
    if (longLink !== undefined) e.linkname = longLink;
    this.#checkName(e.path, "name", e.path);
    this.#checkName(e.linkname, "link target", e.path);
    // Old (V7) archives mark directories with a trailing slash on a regular entry.
    if ((flag === "\0" || flag === "0") && e.path.endsWith("/")) e.type = "dir";
    // Only regular files (and GNU dumpdirs, which we skip) carry a body; the size field of
    // links, devices and directories is ignored, as Go's archive/tar does.
    const bodySize = e.type === "file" || flag === "D" ? e.size : 0;
    if (e.type !== "file") e.size = 0;
    this.#remaining = bodySize;
    this.#padding = (BLOCK - (bodySize % BLOCK)) % BLOCK;
    this.#stats.members++;
    this.#last = e.path;
    return e;
  }

  #checkName(name: string, what: string, member: string): void {
    // UTF-16 length ≤ UTF-8 length ≤ 3 × UTF-16 length: encode only near the bound.
    const max = this.#limits.nameBytes;
    if (name.length * 3 <= max) return;
    if (name.length > max || utf8Length(name) > max) {
      throw invalidArgument(
        `tar: member ${quoteName(member)} has a ${what} longer than ${max} bytes (PATH_MAX)`,
      );
    }
  }

  #xattr(e: TarEntry, name: string, value: Uint8Array): void {
    const l = this.#limits;
    if (
      name.length === 0 || name.length > l.xattrNameBytes || utf8Length(name) > l.xattrNameBytes
    ) {
      throw invalidArgument(
        `tar: member ${quoteName(e.path)} has an extended attribute name that is empty or ` +
          `longer than ${l.xattrNameBytes} bytes (XATTR_NAME_MAX)`,
      );
    }
    if (value.length > l.xattrValueBytes) {
      throw invalidArgument(
        `tar: member ${quoteName(e.path)} has a ${value.length}-byte value of extended ` +
          `attribute ${quoteName(name)}, over the limit of ${l.xattrValueBytes} bytes ` +
          `(XATTR_SIZE_MAX)`,
      );
    }
    (e.xattrs ??= new Map()).set(name, value);
  }

  /**
   * The current entry's body as views into the input chunks (never into a buffer of the
   * reader's own), so a view stays valid as long as the source leaves its chunks alone —
   * `node:stream` and web streams hand out a fresh buffer per chunk.
   */
  async *body(): AsyncGenerator<Uint8Array, void, undefined> {
    while (this.#remaining > 0) {
      if (!(await this.#fill())) {
        throw invalidArgument(`tar: archive truncated inside ${quoteName(this.#last)}`);
      }
      const n = Math.min(this.#remaining, this.#buf.length - this.#off);
      const view = this.#buf.subarray(this.#off, this.#off + n);
      this.#off += n;
      this.#remaining -= n;
      yield view;
    }
  }

  /**
   * Reads whatever follows the end-of-archive marker so the whole stream is hashed
   * (diff ids cover the trailing zero blocks too). Returns the number of bytes drained.
   */
  async drain(): Promise<number> {
    let n = this.#buf.length - this.#off;
    this.#off = this.#buf.length;
    for (;;) {
      const r = await this.#src.next();
      if (r.done) return n;
      n += r.value.length;
    }
  }
}
