/**
 * Just enough HTTP/1.1 for upgrade requests: parse a request head, write a response head.
 *
 * The streaming endpoints are never served with a body, so neither side handles one: a
 * request body is ignored (the connection is upgraded or closed right after), and error
 * responses are sent with `Connection: close`.
 *
 * @module
 */

/** A request head. */
export interface RequestHead {
  /** `GET`, `POST`, … */
  readonly method: string;
  /** The path, percent-decoding left to the caller. */
  readonly path: string;
  /** The query string's parameters. */
  readonly query: URLSearchParams;
  /** `HTTP/1.1` or `HTTP/1.0`. */
  readonly version: string;
  /** Header fields; repeated fields are joined with ", " (RFC 9110 §5.3). */
  readonly headers: Headers;
}

/** A request the server answers with an error status instead of an upgrade. */
export class HttpError extends Error {
  /** The status to answer with. */
  readonly status: number;
  /** Extra response headers. */
  readonly headers: [string, string][];

  /** Builds the error; `message` becomes the response body. */
  constructor(status: number, message: string, headers: [string, string][] = []) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.headers = headers;
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const dec = new TextDecoder("latin1");

/** Parses a request head (request line and header fields, ending in an empty line). */
export function parseRequestHead(head: Uint8Array): RequestHead {
  const text = dec.decode(head);
  const lines = text.split("\r\n");
  const requestLine = lines[0] ?? "";
  const parts = requestLine.split(" ");
  if (parts.length !== 3) throw new HttpError(400, `malformed request line "${requestLine}"`);
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw new HttpError(400, `malformed method "${method}"`);
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    throw new HttpError(505, `HTTP version "${version}" is not supported`);
  }
  if (!target.startsWith("/")) {
    throw new HttpError(400, `request target "${target}" must be an absolute path`);
  }
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : target.slice(q + 1));
  const headers = new Headers();
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    if (line.startsWith(" ") || line.startsWith("\t")) {
      // RFC 9112 §5.2: obsolete line folding may be rejected with 400.
      throw new HttpError(400, "obsolete header line folding is not accepted");
    }
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpError(400, `malformed header line "${line}"`);
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) throw new HttpError(400, `malformed header name "${name}"`);
    try {
      headers.append(name, line.slice(colon + 1).trim());
    } catch {
      throw new HttpError(400, `malformed value of header "${name}"`);
    }
  }
  return { method, path, query, version, headers };
}

/** The comma-separated elements of header `name`, trimmed, empty ones dropped. */
export function headerList(headers: Headers, name: string): string[] {
  const v = headers.get(name);
  if (v === null) return [];
  return v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

/** True when header `name` lists `token` (case-insensitively), as `Connection: Upgrade`. */
export function headerHasToken(headers: Headers, name: string, token: string): boolean {
  const want = token.toLowerCase();
  return headerList(headers, name).some((t) => t.toLowerCase() === want);
}

const REASONS: Record<number, string> = {
  101: "Switching Protocols",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

const enc = new TextEncoder();

/** A response head (and, for errors, a short text body). */
export function formatResponse(
  status: number,
  headers: [string, string][],
  body?: string,
): Uint8Array {
  let out = `HTTP/1.1 ${status} ${REASONS[status] ?? "Unknown"}\r\n`;
  const all: [string, string][] = [...headers];
  if (body !== undefined) {
    const bytes = enc.encode(body);
    all.push(
      ["Content-Type", "text/plain; charset=utf-8"],
      ["X-Content-Type-Options", "nosniff"],
      ["Content-Length", String(bytes.byteLength)],
      ["Connection", "close"],
    );
  }
  all.push(["Date", new Date().toUTCString()]);
  for (const [k, v] of all) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new RangeError(`bad response header ${k}`);
    out += `${k}: ${v}\r\n`;
  }
  out += "\r\n";
  if (body !== undefined) out += body;
  return enc.encode(out);
}
