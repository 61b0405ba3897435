/**
 * Image references in the docker grammar, normalised the way docker and containerd do
 * it: `busybox` → `docker.io/library/busybox:latest`, `index.docker.io/x` → `docker.io/x`,
 * a reference with both a tag and a digest keeps only the digest
 * (`distribution/reference.ParseDockerRef`).
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";

/** The registry that bare names (`busybox`, `foo/bar`) live on. */
export const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
/** Where `docker.io` is actually served. */
export const DOCKER_HUB_HOST = "registry-1.docker.io";
const OFFICIAL_REPO_PREFIX = "library/";
const DEFAULT_TAG = "latest";
const NAME_TOTAL_MAX = 255;

/** A parsed, normalised reference. Exactly one of `tag` and `digest` is set. */
export interface Reference {
  /** Registry host, with port if any: `docker.io`, `127.0.0.1:5000`, `[::1]:5000`. */
  domain: string;
  /** Repository path within the registry: `library/busybox`. */
  path: string;
  /** The tag, when the reference names one (and no digest). */
  tag?: string;
  /** The manifest digest, `sha256:<hex>`, when the reference pins one. */
  digest?: string;
}

// The grammar of distribution/reference, piece by piece.
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";

const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const DIGEST_RE = new RegExp(`^${DIGEST}$`);
const SHA256_RE = /^sha256:[0-9a-f]{64}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;

/** True for a well-formed `sha256:<64 lowercase hex>` digest. */
export function isSha256Digest(s: string): boolean {
  return SHA256_RE.test(s);
}

/** Throws invalid-argument unless `digest` is `sha256:<64 hex>` (the only algorithm we verify). */
export function checkDigest(digest: string, what: string): string {
  if (isSha256Digest(digest)) return digest;
  if (DIGEST_RE.test(digest)) {
    throw invalidArgument(`${what}: unsupported digest algorithm in "${digest}" (want sha256)`);
  }
  throw invalidArgument(`${what}: malformed digest "${digest}"`);
}

/**
 * Splits `host[:port]/rest` the docker way: the first component is a registry host only
 * if it contains `.` or `:`, is `localhost`, or has upper-case letters.
 */
function splitDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf("/");
  const first = i === -1 ? "" : name.slice(0, i);
  let domain: string;
  let remainder: string;
  if (
    i === -1 ||
    (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)
  ) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes("/")) {
    remainder = OFFICIAL_REPO_PREFIX + remainder;
  }
  return { domain, remainder };
}

/**
 * Parses and normalises `ref`. Throws invalid-argument naming the problem for anything the
 * docker grammar rejects (upper case in the path, a bare 64-hex id, a bad tag or digest).
 */
export function parseReference(ref: string): Reference {
  const bad = (why: string) => invalidArgument(`invalid image reference "${ref}": ${why}`);
  if (ref === "") throw bad("empty");
  if (ref !== ref.trim()) throw bad("surrounding whitespace");

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest)) throw bad(`malformed digest "${digest}"`);
    if (!digest.startsWith("sha256:")) throw bad(`unsupported digest algorithm in "${digest}"`);
    if (!isSha256Digest(digest)) throw bad(`malformed sha256 digest "${digest}"`);
  }

  // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(":");
  if (lastColon > rest.lastIndexOf("/")) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) throw bad(`malformed tag "${tag}"`);
  }
  if (rest === "") throw bad("missing repository name");
  if (HEX64_RE.test(rest)) {
    throw bad("a 64-character hexadecimal string is an image id, not a repository name");
  }

  const { domain, remainder } = splitDomain(rest);
  if (!DOMAIN_RE.test(domain)) throw bad(`malformed registry host "${domain}"`);
  if (remainder.toLowerCase() !== remainder) throw bad("repository name must be lowercase");
  if (!PATH_RE.test(remainder)) throw bad(`malformed repository path "${remainder}"`);
  if (domain.length + 1 + remainder.length > NAME_TOTAL_MAX) {
    throw bad(`repository name longer than ${NAME_TOTAL_MAX} characters`);
  }

  // containerd's ParseDockerRef: a digest wins over a tag; no tag and no digest means latest.
  if (digest) return { domain, path: remainder, digest };
  return { domain, path: remainder, tag: tag ?? DEFAULT_TAG };
}

/** `domain/path` of a reference: `docker.io/library/busybox`. */
export function repository(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** The canonical string: `docker.io/library/busybox:latest` or `…@sha256:…`. */
export function formatReference(ref: Reference): string {
  const repo = repository(ref);
  return ref.digest ? `${repo}@${ref.digest}` : `${repo}:${ref.tag}`;
}

/**
 * The normalised form of `ref` if it parses, else `undefined` (lookups by user input that
 * may be an id rather than a name).
 */
export function tryNormalise(ref: string): string | undefined {
  try {
    return formatReference(parseReference(ref));
  } catch {
    return undefined;
  }
}

/**
 * True when `host` (with or without port) is a loopback registry: `localhost`,
 * `127.0.0.0/8` or `[::1]`. Docker and containerd reach those over plain http.
 */
export function isLoopbackHost(host: string): boolean {
  let h = host;
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    h = end === -1 ? h : h.slice(1, end);
    return h === "::1";
  }
  const colon = h.lastIndexOf(":");
  if (colon !== -1) h = h.slice(0, colon);
  if (h === "localhost") return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}
