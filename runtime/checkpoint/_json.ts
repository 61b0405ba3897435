/**
 * JSON shapes other runtimes read: a CRI message as cri-api's Go `json.Marshal` writes it
 * (snake_case proto names, int64 as numbers, empty fields omitted), and CRIU's reason from
 * its log.
 *
 * @module
 */

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function convert(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Uint8Array) return btoa(String.fromCharCode(...v));
  if (Array.isArray(v)) return v.length ? v.map(convert) : undefined;
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const c = convert(x);
      if (c === undefined || c === "" || c === 0 || c === false) continue;
      if (typeof c === "object" && c !== null && Object.keys(c).length === 0) continue;
      out[snake(k)] = c;
    }
    return out;
  }
  return v;
}

/** A CRI message (ts-proto shape) as Go's json.Marshal of the gogo type writes it. */
export function criStatusJson(msg: object): Record<string, unknown> {
  return (convert(msg) ?? {}) as Record<string, unknown>;
}

/** The first and last `Error` lines of a CRIU log (at most 400 characters), if any. */
export async function lastCriuErrors(path: string): Promise<string | undefined> {
  let text: string;
  try {
    using f = await Deno.open(path, { read: true });
    const size = (await f.stat()).size;
    const want = Math.min(size, 1 << 20);
    await f.seek(size - want, Deno.SeekMode.Start);
    const buf = new Uint8Array(want);
    let off = 0;
    while (off < want) {
      const n = await f.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    text = new TextDecoder().decode(buf.subarray(0, off));
  } catch {
    return undefined;
  }
  const errors = text.split("\n").filter((l) => /\bError \(/.test(l)).map((l) =>
    l.replace(/^.*?Error \([^)]*\):\s*/, "").trim()
  );
  if (errors.length === 0) return undefined;
  const picked = errors.length === 1 ? errors : [errors[0]!, errors.at(-1)!];
  const s = picked.join("; ");
  return s.length > 400 ? `${s.slice(0, 397)}...` : s;
}
