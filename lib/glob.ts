/**
 * Glob patterns with Go's `path.Match` semantics, which containerd's `pod_annotations` and
 * `container_annotations` use, so an operator's allowlist means the same here:
 *
 * - `*` matches any run of characters other than `/`, `?` any one character other than `/`;
 * - `[abc]`, `[a-z]`, `[^a-z]` are character classes; `\` escapes the next character.
 *
 * No library has exactly these rules (minimatch and picomatch add braces, globstars and
 * extglobs, and treat a leading `!` as negation), so this compiles them to a `RegExp`.
 * Unlike Go, which reports a malformed pattern only as "no match", a malformed pattern is
 * an error here: the config is refused at startup instead of an allowlist silently
 * allowing nothing.
 *
 * @module
 */

/** Compiles `pattern`; throws an `Error` saying what is malformed. */
export function compileGlob(pattern: string): RegExp {
  const chars = Array.from(pattern);
  const code = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;
  let out = "";
  let i = 0;
  const escaped = (what: string): string => {
    const c = chars[++i];
    if (c === undefined) throw new Error(`"${pattern}": a trailing \\ ${what}`);
    return c;
  };
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else if (c === "\\") out += code(escaped("escapes nothing"));
    else if (c === "[") {
      i++;
      let negated = false;
      if (chars[i] === "^") {
        negated = true;
        i++;
      }
      let ranges = "";
      let n = 0;
      while (true) {
        const d = chars[i];
        if (d === undefined) throw new Error(`"${pattern}": a [ is not closed`);
        if (d === "]" && n > 0) break;
        const lo = classChar(d === "\\" ? escaped("in a class") : d, d === "\\", pattern);
        let hi = lo;
        if (chars[i + 1] === "-") {
          i += 2;
          const e = chars[i];
          if (e === undefined) throw new Error(`"${pattern}": a [ is not closed`);
          hi = classChar(e === "\\" ? escaped("in a class") : e, e === "\\", pattern);
          if (hi.codePointAt(0)! < lo.codePointAt(0)!) {
            throw new Error(`"${pattern}": the range ${lo}-${hi} is backwards`);
          }
        }
        ranges += lo === hi ? code(lo) : `${code(lo)}-${code(hi)}`;
        n++;
        i++;
      }
      out += `[${negated ? "^" : ""}${ranges}]`;
    } else out += code(c);
    i++;
  }
  return new RegExp(`^${out}$`, "u");
}

/** A class member: `-` and `]` must be escaped, as in Go. */
function classChar(c: string, wasEscaped: boolean, pattern: string): string {
  if (!wasEscaped && (c === "-" || c === "]")) {
    throw new Error(`"${pattern}": an unescaped ${c} in a character class`);
  }
  return c;
}

/** A matcher for any of `patterns` (none: matches nothing). */
export function globMatcher(patterns: readonly string[]): (s: string) => boolean {
  const res = patterns.map(compileGlob);
  return (s) => res.some((re) => re.test(s));
}
