/**
 * The host side of the hostile-image tests: a victim directory outside every store, with a
 * fingerprint that catches any change to it (content, mode, owner, link count, new or
 * removed names), and a check that no inode of a store is also linked from outside it.
 *
 * ```ts
 * await using v = await victimDir();
 * const before = v.fingerprint();
 * … pull hostile images …
 * assertEquals(v.fingerprint(), before);
 * assertEquals(foreignLinks(storeRoot), []);
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A victim directory; dispose to remove it. */
export interface Victim extends AsyncDisposable {
  /** Absolute path of the directory. */
  path: string;
  /** One line per entry: name, type, mode, owner, link count, size, content hash. */
  fingerprint(): string[];
}

/**
 * Creates a victim directory under `/tmp` (on the same file system as the test stores, so a
 * hardlink from a store into it would succeed if the code let it), at `path` or a new temp
 * directory: files of several modes, two hardlinked names, a symlink, what the attacks aim
 * at (`cron.d/`, `shadow`, `var/lib/kubelet/precious`) and `x/y/`, owned 4242:4343 with modes
 * 0710 and 0750 (attributes an implicit directory must never copy).
 */
export async function victimDir(
  opts: { prefix?: string; path?: string } = {},
): Promise<Victim> {
  let path: string;
  if (opts.path !== undefined) {
    path = opts.path;
    await Deno.mkdir(path);
  } else {
    path = await Deno.makeTempDir({ prefix: opts.prefix ?? "sauropod-victim-" });
  }
  await Deno.chmod(path, 0o755);
  const w = (p: string, data: string, mode: number) => {
    Deno.writeTextFileSync(`${path}/${p}`, data);
    Deno.chmodSync(`${path}/${p}`, mode);
  };
  Deno.mkdirSync(`${path}/cron.d`);
  w("cron.d/keep", "# untouched\n", 0o644);
  w("shadow", "root:*:19000:0:99999:7:::\n", 0o640);
  Deno.mkdirSync(`${path}/var/lib/kubelet`, { recursive: true });
  w("var/lib/kubelet/precious", "precious\n", 0o600);
  w("passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644);
  Deno.linkSync(`${path}/passwd`, `${path}/passwd.hard`);
  Deno.symlinkSync("shadow", `${path}/shadow.link`);
  // A directory whose attributes an implicit directory must never copy (L1).
  Deno.mkdirSync(`${path}/x/y`, { recursive: true });
  for (const [p, mode] of [["x", 0o710], ["x/y", 0o750]] as const) {
    Deno.chownSync(`${path}/${p}`, 4242, 4343);
    Deno.chmodSync(`${path}/${p}`, mode);
  }
  return {
    path,
    fingerprint: () => fingerprint(path),
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Every entry under `root` (itself included), sorted, as comparable lines. */
export function fingerprint(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const abs = rel === "" ? root : `${root}/${rel}`;
    const st = Deno.lstatSync(abs);
    const type = st.isDirectory ? "d" : st.isSymlink ? "l" : st.isFile ? "f" : "o";
    let extra = "";
    if (st.isFile) extra = createHash("sha256").update(Deno.readFileSync(abs)).digest("hex");
    if (st.isSymlink) extra = `-> ${Deno.readLinkSync(abs)}`;
    out.push(
      [
        rel || ".",
        type,
        (st.mode! & 0o7777).toString(8),
        `${st.uid}:${st.gid}`,
        `nlink=${st.nlink}`,
        st.isDirectory ? "" : `size=${st.size}`,
        `mtime=${st.mtime?.getTime()}`,
        extra,
      ].join(" "),
    );
    if (st.isDirectory) {
      for (const e of [...Deno.readDirSync(abs)].map((e) => e.name).sort()) {
        walk(rel === "" ? e : `${rel}/${e}`);
      }
    }
  };
  walk("");
  return out;
}

/**
 * Non-directories under `root` whose inode has links outside `root`: the link count is
 * higher than the number of names `root` itself holds for it. `[]` when the tree is closed.
 */
export function foreignLinks(root: string): string[] {
  const seen = new Map<string, { names: string[]; nlink: number }>();
  const walk = (abs: string) => {
    for (const e of Deno.readDirSync(abs)) {
      const p = `${abs}/${e.name}`;
      const st = Deno.lstatSync(p);
      if (st.isDirectory) {
        walk(p);
        continue;
      }
      if ((st.nlink ?? 1) <= 1) continue;
      const key = `${st.dev}:${st.ino}`;
      const s = seen.get(key) ?? { names: [], nlink: st.nlink! };
      s.names.push(p);
      seen.set(key, s);
    }
  };
  walk(root);
  return [...seen.values()].filter((s) => s.names.length < s.nlink)
    .map((s) => `${s.names.join(", ")} (nlink ${s.nlink})`);
}
