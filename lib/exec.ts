/**
 * Finding a program the way `execvp(3)` does: a name is looked up on PATH, an absolute
 * path is taken as it is. The one copy in sauropod (the agent resolves the OCI runtime
 * once at start; the shim client before it hands the runtime to a shim).
 *
 * @module
 */

/** PATH when the environment has none (or may not be read): Debian's for root. */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function executable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * The absolute path of program `name`: itself when absolute, else the first executable
 * file called `name` in the folders of `path` (default: `$PATH`, else {@link DEFAULT_PATH});
 * undefined when there is none. A relative path with a slash is never looked up.
 */
export function which(name: string, path?: string): string | undefined {
  if (name.startsWith("/")) return executable(name) ? name : undefined;
  if (name === "" || name.includes("/")) return undefined;
  let dirs = path;
  if (dirs === undefined) {
    try {
      dirs = Deno.env.get("PATH");
    } catch {
      dirs = undefined; // no permission to read the environment
    }
  }
  for (const dir of (dirs || DEFAULT_PATH).split(":")) {
    if (dir.startsWith("/") && executable(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return undefined;
}
