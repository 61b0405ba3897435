/**
 * A small tar writer (ustar, with a PAX `x` header for what ustar cannot hold: names and
 * link targets over 100 bytes or not ASCII, sizes of 8 GiB and more). The checkpoint archive
 * and its `rootfs-diff.tar` are plain, uncompressed tars, as containerd and CRI-O write
 * them, so the image reader, checkpointctl and both runtimes read them.
 *
 * No library: npm's tar writers are Node stream machinery around these 60 lines.
 *
 * @module
 */

const BLOCK = 512;
const enc = new TextEncoder();

/** Where the archive goes. */
export interface ByteSink {
  write(p: Uint8Array): Promise<number>;
}

/** One member's header fields. */
export interface MemberHeader {
  /** Relative name; a directory's ends in "/". */
  name: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch. */
  mtime?: number;
  size?: number;
  linkname?: string;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function put(buf: Uint8Array, off: number, width: number, s: string): void {
  const b = enc.encode(s);
  buf.set(b.subarray(0, width), off);
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  for (;;) {
    const total = String(len).length + enc.encode(body).length;
    if (total === len) return `${len}${body}`;
    len = total;
  }
}

function ascii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

function header(
  h: MemberHeader,
  name: string,
  linkname: string,
  size: number,
  typeflag: string,
): Uint8Array {
  const b = new Uint8Array(BLOCK);
  put(b, 0, 100, name);
  put(b, 100, 8, octal(h.mode & 0o7777, 8));
  put(b, 108, 8, octal(h.uid ?? 0, 8));
  put(b, 116, 8, octal(h.gid ?? 0, 8));
  put(b, 124, 12, octal(size, 12));
  put(b, 136, 12, octal(Math.max(0, Math.floor(h.mtime ?? 0)), 12));
  b.fill(0x20, 148, 156);
  put(b, 156, 1, typeflag);
  put(b, 157, 100, linkname);
  put(b, 257, 6, "ustar\0");
  put(b, 263, 2, "00");
  let sum = 0;
  for (const x of b) sum += x;
  put(b, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

/** Writes members one after the other; {@link finish} writes the end marker. */
export class TarWriter {
  readonly #sink: ByteSink;
  /** Bytes written so far. */
  bytes = 0;

  /** Writes to `sink`. */
  constructor(sink: ByteSink) {
    this.#sink = sink;
  }

  async #write(p: Uint8Array): Promise<void> {
    let off = 0;
    while (off < p.length) off += await this.#sink.write(p.subarray(off));
    this.bytes += p.length;
  }

  async #pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest) await this.#write(new Uint8Array(BLOCK - rest));
  }

  /** The header of `h`; a file's body must follow through {@link body}. */
  async header(h: MemberHeader): Promise<void> {
    const size = h.type === "file" ? (h.size ?? 0) : 0;
    const name = h.type === "dir" && !h.name.endsWith("/") ? `${h.name}/` : h.name;
    const link = h.linkname ?? "";
    const pax: string[] = [];
    if (enc.encode(name).length > 100 || !ascii(name)) pax.push(paxRecord("path", name));
    if (enc.encode(link).length > 100 || !ascii(link)) pax.push(paxRecord("linkpath", link));
    if (size >= 8 ** 11) pax.push(paxRecord("size", String(size)));
    if (pax.length) {
      const data = enc.encode(pax.join(""));
      await this.#write(header({ ...h, mode: 0o644 }, "PaxHeader", "", data.length, "x"));
      await this.#write(data);
      await this.#pad(data.length);
    }
    const typeflag = h.type === "file" ? "0" : h.type === "dir" ? "5" : "2";
    const short = (s: string) => (ascii(s) && s.length <= 100 ? s : "");
    await this.#write(header(h, short(name), short(link), size >= 8 ** 11 ? 0 : size, typeflag));
  }

  /** A whole member with its body in memory. */
  async add(h: MemberHeader, data?: Uint8Array): Promise<void> {
    await this.header({ ...h, size: data?.length ?? 0 });
    if (data && data.length) {
      await this.#write(data);
      await this.#pad(data.length);
    }
  }

  /** A regular file member whose body is the file at `path` (exactly `size` bytes of it). */
  async addFile(h: Omit<MemberHeader, "type" | "size">, path: string): Promise<void> {
    using f = await Deno.open(path, { read: true });
    const size = (await f.stat()).size;
    await this.header({ ...h, type: "file", size });
    let left = size;
    const buf = new Uint8Array(1 << 20);
    while (left > 0) {
      const n = await f.read(buf.subarray(0, Math.min(buf.length, left)));
      if (n === null) throw new Error(`${path} shrank while archived`);
      await this.#write(buf.subarray(0, n));
      left -= n;
    }
    await this.#pad(size);
  }

  /** The two zero blocks that end an archive. */
  async finish(): Promise<void> {
    await this.#write(new Uint8Array(BLOCK * 2));
  }
}
