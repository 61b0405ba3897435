/**
 * `WWW-Authenticate` challenges (RFC 7235 §4.1) as registries send them:
 * `Bearer realm="https://auth.example/token",service="registry.example",scope="repository:x:pull"`
 * or `Basic realm="basic-realm"`, possibly several in one header.
 *
 * @module
 */

/** One challenge: its scheme in lower case and its parameters (names in lower case). */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Parses a `WWW-Authenticate` header into its challenges. Unparseable trailing garbage is
 * dropped rather than failing the pull: the first well-formed challenges are what matter.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipSpace = () => {
    while (i < n && (header[i] === " " || header[i] === "\t")) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && TOKEN_CHAR.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  const readQuoted = (): string | undefined => {
    if (header[i] !== '"') return undefined;
    i++;
    let s = "";
    while (i < n && header[i] !== '"') {
      if (header[i] === "\\" && i + 1 < n) i++;
      s += header[i];
      i++;
    }
    if (i >= n) return undefined;
    i++; // closing quote
    return s;
  };

  while (i < n) {
    skipSpace();
    while (i < n && header[i] === ",") {
      i++;
      skipSpace();
    }
    const scheme = readToken();
    if (scheme === "") break;
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    skipSpace();
    // auth-params: name=value pairs separated by commas, until the next scheme.
    while (i < n) {
      const save = i;
      skipSpace();
      const name = readToken();
      skipSpace();
      if (name === "" || header[i] !== "=") {
        // Not a parameter: either the next challenge's scheme or a token68 blob.
        i = save;
        if (name !== "" && Object.keys(challenge.params).length === 0 && header[i] !== ",") {
          // token68 (e.g. `Negotiate abc==`): keep it whole, we never use it.
          const start = i;
          while (i < n && header[i] !== ",") i++;
          challenge.params[""] = header.slice(start, i).trim();
        }
        break;
      }
      i++; // '='
      skipSpace();
      const value = header[i] === '"' ? readQuoted() : readToken();
      if (value === undefined) return out;
      challenge.params[name.toLowerCase()] = value;
      skipSpace();
      if (header[i] === ",") {
        i++;
        // Peek: a following `token=` continues this challenge, a bare token starts another.
        const peek = i;
        skipSpace();
        readToken();
        skipSpace();
        const continues = header[i] === "=";
        i = peek;
        if (!continues) break;
      } else {
        break;
      }
    }
  }
  return out;
}
