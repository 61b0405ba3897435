/**
 * A streaming tar reader: ustar, GNU (`L`/`K` long names, base-256 numbers) and PAX
 * (`x`/`g` records, `SCHILY.xattr.*` and `LIBARCHIVE.xattr.*` extended attributes).
 *
 * It never holds more than the decompressor's current chunk: entry bodies are yielded as
 * views into the incoming chunks. Malformed input (bad checksum, truncated stream, a body
 * longer than the archive) fails with an invalid-argument error that says where.
 *
 * @module
 */
import { invalidArgument } from "../../errors/mod.ts";

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

/** PAX records: `"%d %s=%s\n"`, length counting the whole record. Values stay bytes. */
export function parsePax(data: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the last record
    const sp = data.indexOf(0x20, i);
    if (sp === -1) throw invalidArgument("tar: malformed PAX record (no length)");
    const len = Number(utf8.decode(data.subarray(i, sp)));
    if (!Number.isSafeInteger(len) || len <= sp - i + 1 || i + len > data.length) {
      throw invalidArgument("tar: malformed PAX record length");
    }
    const rec = data.subarray(sp + 1, i + len);
    if (rec[rec.length - 1] !== 0x0a) throw invalidArgument("tar: PAX record not newline-ended");
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw invalidArgument("tar: malformed PAX record (no key)");
    out.set(utf8.decode(rec.subarray(0, eq)), rec.subarray(eq + 1, rec.length - 1));
    i += len;
  }
  return out;
}

function paxTime(v: Uint8Array, key: string): number {
  const s = utf8.decode(v);
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw invalidArgument(`tar: PAX ${key} "${s}" is not a time`);
  return Number(s);
}

function paxInt(v: Uint8Array, key: string): number {
  const s = utf8.decode(v);
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) {
    throw invalidArgument(`tar: PAX ${key} "${s}" is not a number`);
  }
  return n;
}

function base64Decode(s: string): Uint8Array {
  const bin = atob(s);
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
  #global = new Map<string, Uint8Array>();
  readonly #scratch = new Uint8Array(BLOCK);
  /** Members read so far, and the last one's name (for error messages). */
  #count = 0;
  #last = "";

  /** Reads from `source`, an iterable of (decompressed) byte chunks. */
  constructor(source: AsyncIterable<Uint8Array>) {
    this.#src = source[Symbol.asyncIterator]();
  }

  #where(): string {
    return this.#count === 0 ? "the start" : `member ${this.#count} ("${this.#last}")`;
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

  /** Reads a whole small body (PAX or GNU long-name data) into one buffer. */
  async #readData(size: number, what: string): Promise<Uint8Array> {
    if (size > 1 << 20) throw invalidArgument(`tar: ${what} of ${size} bytes is too large`);
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

  /** The next entry, or `null` after the end-of-archive marker (or a clean end of input). */
  async next(): Promise<TarEntry | null> {
    if (this.#ended) return null;
    if (this.#remaining + this.#padding > 0) {
      await this.#skip(this.#remaining + this.#padding, `body of "${this.#last}"`);
      this.#remaining = 0;
      this.#padding = 0;
    }
    let pax: Map<string, Uint8Array> | undefined;
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
        case "x":
          pax = new Map([...(pax ?? []), ...parsePax(await this.#readData(size, "PAX header"))]);
          continue;
        case "g":
          for (const [k, v] of parsePax(await this.#readData(size, "PAX global header"))) {
            this.#global.set(k, v);
          }
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
        if (flag === "S") throw invalidArgument(`tar: GNU sparse member "${name}" not supported`);
        throw invalidArgument(`tar: member "${name}" has unsupported type '${flag}'`);
      }
      return this.#entry(h, type, flag, size, pax, longName, longLink);
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
    const pax = this.#global.size > 0 ? new Map([...this.#global, ...(localPax ?? [])]) : localPax;
    const e: TarEntry = {
      path: longName ?? path,
      type,
      mode: parseNumeric(field(h, F.mode), "mode") & 0o7777,
      uid: parseNumeric(field(h, F.uid), "uid"),
      gid: parseNumeric(field(h, F.gid), "gid"),
      size: headerSize,
      mtime: parseNumeric(field(h, F.mtime), "mtime"),
      linkname: longLink ?? str(field(h, F.linkname)),
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
    if (pax) {
      for (const [k, v] of pax) {
        switch (k) {
          case "path":
            e.path = utf8.decode(v);
            break;
          case "linkpath":
            e.linkname = utf8.decode(v);
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
              (e.xattrs ??= new Map()).set(k.slice("SCHILY.xattr.".length), v);
            } else if (k.startsWith("LIBARCHIVE.xattr.")) {
              const name = decodeURIComponent(k.slice("LIBARCHIVE.xattr.".length));
              (e.xattrs ??= new Map()).set(name, base64Decode(utf8.decode(v)));
            } else if (k.startsWith("GNU.sparse.")) {
              throw invalidArgument(`tar: GNU sparse member "${e.path}" not supported`);
            }
        }
      }
    }
    // Old (V7) archives mark directories with a trailing slash on a regular entry.
    if ((flag === "\0" || flag === "0") && e.path.endsWith("/")) e.type = "dir";
    // Only regular files (and GNU dumpdirs, which we skip) carry a body; the size field of
    // links, devices and directories is ignored, as Go's archive/tar does.
    const bodySize = e.type === "file" || flag === "D" ? e.size : 0;
    if (e.type !== "file") e.size = 0;
    this.#remaining = bodySize;
    this.#padding = (BLOCK - (bodySize % BLOCK)) % BLOCK;
    this.#count++;
    this.#last = e.path;
    return e;
  }

  /**
   * The current entry's body as views into the input chunks (never into a buffer of the
   * reader's own), so a view stays valid as long as the source leaves its chunks alone —
   * `node:stream` and web streams hand out a fresh buffer per chunk.
   */
  async *body(): AsyncGenerator<Uint8Array, void, undefined> {
    while (this.#remaining > 0) {
      if (!(await this.#fill())) {
        throw invalidArgument(`tar: archive truncated inside "${this.#last}"`);
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
