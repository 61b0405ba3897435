/**
 * Reading a file inside a container's rootfs without letting the image escape it: every
 * symlink on the way is resolved against the rootfs, never the host (the securejoin rule).
 * An image whose /etc/passwd is a symlink to the host's /etc/shadow reads the rootfs's
 * /etc/shadow, if any.
 *
 * @module
 */

const MAX_LINKS = 40;
const MAX_BYTES = 4 << 20;

/** Resolves `path` inside `root` (both absolute) with symlinks kept inside `root`. */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const todo = path.split("/").filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const candidate = `${root}/${[...done, part].join("/")}`;
    let st: Deno.FileInfo;
    try {
      st = await Deno.lstat(candidate);
    } catch {
      done.push(part, ...todo);
      return `${root}/${done.join("/")}`;
    }
    if (!st.isSymlink) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) throw new Error(`too many symlinks resolving ${path} in ${root}`);
    const target = await Deno.readLink(candidate);
    if (target.startsWith("/")) done.length = 0;
    todo.unshift(...target.split("/").filter(Boolean));
  }
  return `${root}/${done.join("/")}`.replace(/\/+$/, "") || root;
}

/** The text of `path` inside `root`, or undefined when absent, not a file, or too big. */
export async function readFileInRoot(root: string, path: string): Promise<string | undefined> {
  try {
    const real = await resolveInRoot(root, path);
    const st = await Deno.lstat(real);
    if (!st.isFile || st.size > MAX_BYTES) return undefined;
    return await Deno.readTextFile(real);
  } catch {
    return undefined;
  }
}
