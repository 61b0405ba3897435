/**
 * Validation of request and trailer field sections (RFC 9113 §8.2–8.3). A malformed
 * request is a stream error of type PROTOCOL_ERROR: it ends that stream, not the
 * connection.
 *
 * `:authority` is deliberately not validated beyond the generic field rules: Go gRPC
 * clients before 1.55 (crictl and kubelet ≤ 1.28) send the raw socket path there
 * (`/run/sauropod/sauropod.sock`), which nghttp2-based servers reject.
 *
 * @module
 */
import { ErrorCode, streamError } from "./_h2_frame.ts";

/** A validated request head. */
export interface RequestHead {
  method: string;
  scheme: string;
  path: string;
  /** `:authority`, or `host` when the client sent only that, or "". */
  authority: string;
  /** Regular (non-pseudo) fields, names lowercase: `[name0, value0, name1, value1, …]`. */
  fields: string[];
  /** The declared `content-length`, when present. */
  contentLength?: number;
}

/** Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Checks one field name: lowercase tokens only, no controls, separators or non-ASCII;
 * a leading colon is left to the caller (pseudo-fields).
 */
function checkName(name: string, streamId: number): void {
  if (name.length === 0) throw malformed("empty field name", streamId);
  for (let i = name.charCodeAt(0) === 0x3a ? 1 : 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    // RFC 9113 §8.2.1: no 0x00-0x20, no uppercase 0x41-0x5a, no 0x7f-0xff; RFC 9110
    // tokens exclude the separators as well.
    if (c <= 0x20 || (c >= 0x41 && c <= 0x5a) || c >= 0x7f || SEPARATORS.has(c)) {
      throw malformed(
        `invalid character 0x${c.toString(16)} in field name ${JSON.stringify(name)}`,
        streamId,
      );
    }
  }
}

const SEPARATORS = new Set([...'"(),/:;<=>?@[\\]{}'].map((c) => c.charCodeAt(0)));

/** Checks one field value: no NUL, CR or LF, no leading or trailing whitespace. */
function checkValue(name: string, value: string, streamId: number): void {
  if (value.length === 0) return;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) {
    throw malformed(`field ${name} has surrounding whitespace`, streamId);
  }
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) {
      throw malformed(`field ${name} contains NUL, CR or LF`, streamId);
    }
  }
}

function malformed(msg: string, streamId: number) {
  return streamError(ErrorCode.PROTOCOL_ERROR, `malformed request: ${msg}`, streamId);
}

/**
 * Validates a decoded request field section and splits off the pseudo-fields. Throws a
 * PROTOCOL_ERROR stream error naming the problem.
 */
export function parseRequestHead(decoded: string[], streamId: number): RequestHead {
  let method: string | undefined;
  let scheme: string | undefined;
  let path: string | undefined;
  let authority: string | undefined;
  let host: string | undefined;
  let contentLength: number | undefined;
  const fields: string[] = [];
  let regular = false;
  for (let i = 0; i < decoded.length; i += 2) {
    const name = decoded[i]!;
    const value = decoded[i + 1]!;
    checkName(name, streamId);
    checkValue(name, value, streamId);
    if (name.charCodeAt(0) === 0x3a) {
      if (regular) throw malformed(`pseudo-field ${name} after a regular field`, streamId);
      const dup = () => malformed(`duplicate ${name}`, streamId);
      switch (name) {
        case ":method":
          if (method !== undefined) throw dup();
          method = value;
          break;
        case ":scheme":
          if (scheme !== undefined) throw dup();
          scheme = value;
          break;
        case ":path":
          if (path !== undefined) throw dup();
          path = value;
          break;
        case ":authority":
          if (authority !== undefined) throw dup();
          authority = value;
          break;
        default:
          // Response pseudo-fields (:status) and extensions we do not support (:protocol).
          throw malformed(`pseudo-field ${name} not allowed in a request`, streamId);
      }
      continue;
    }
    regular = true;
    if (CONNECTION_SPECIFIC.has(name)) {
      throw malformed(`connection-specific field ${name}`, streamId);
    }
    if (name === "te" && value !== "trailers") {
      throw malformed(`te: ${JSON.stringify(value)} (only "trailers" is allowed)`, streamId);
    }
    if (name === "content-length") {
      if (
        !/^[0-9]{1,15}$/.test(value) ||
        (contentLength !== undefined && Number(value) !== contentLength)
      ) {
        throw malformed(`content-length: ${JSON.stringify(value)}`, streamId);
      }
      contentLength = Number(value);
    }
    if (name === "host" && host === undefined) host = value;
    fields.push(name, value);
  }
  if (method === undefined) throw malformed("missing :method", streamId);
  if (method === "CONNECT") throw malformed("CONNECT is not supported", streamId);
  if (scheme === undefined) throw malformed("missing :scheme", streamId);
  if (path === undefined || path === "") throw malformed("missing or empty :path", streamId);
  const head: RequestHead = {
    method,
    scheme,
    path,
    authority: authority ?? host ?? "",
    fields,
  };
  if (contentLength !== undefined) head.contentLength = contentLength;
  return head;
}

/** Validates a trailer section: regular fields only (RFC 9113 §8.1). */
export function checkTrailers(decoded: string[], streamId: number): void {
  for (let i = 0; i < decoded.length; i += 2) {
    const name = decoded[i]!;
    checkName(name, streamId);
    if (name.charCodeAt(0) === 0x3a) throw malformed(`pseudo-field ${name} in trailers`, streamId);
    checkValue(name, decoded[i + 1]!, streamId);
  }
}
