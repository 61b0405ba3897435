/**
 * Lexical path handling for paths inside the container (never touches the host).
 *
 * @module
 */

/**
 * The shortest equivalent of an absolute path, as Go's `filepath.Clean` computes it: `.` and
 * empty segments dropped, `..` applied (never above `/`), no trailing slash.
 */
export function cleanPath(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return "/" + out.join("/");
}

/** How deep a clean absolute path is: `/` and `/a` are 1, `/a/b` is 2. */
export function pathDepth(cleanAbsolute: string): number {
  return cleanAbsolute === "/" ? 1 : cleanAbsolute.split("/").length - 1;
}

/** True when `child` is `parent` or below it (both clean and absolute). */
export function isWithin(child: string, parent: string): boolean {
  if (parent === "/") return true;
  return child === parent || child.startsWith(parent + "/");
}
