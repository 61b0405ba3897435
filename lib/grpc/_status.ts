/**
 * gRPC status codes, the error that carries one, and the percent-encoding of
 * `grpc-message` (grpc/grpc `doc/PROTOCOL-HTTP2.md`).
 *
 * @module
 */

/** gRPC status codes (grpc/grpc `doc/statuscodes.md`). */
export enum Status {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

/** An error that becomes the call's status: `throw new StatusError(Status.NOT_FOUND, "…")`. */
export class StatusError extends Error {
  /** Creates an error ending the call with `code` and `message`. */
  constructor(readonly code: Status, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StatusError";
  }
}

const HEX = "0123456789ABCDEF";
const utf8 = new TextEncoder();

/**
 * Percent-encodes a status message for `grpc-message`: UTF-8, then every byte outside
 * 0x20–0x7E, and `%` itself, as `%XX`.
 */
export function percentEncode(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = "";
  for (const b of utf8.encode(message)) {
    if (b >= 0x20 && b <= 0x7e && b !== 0x25) out += String.fromCharCode(b);
    else out += "%" + HEX[b >> 4] + HEX[b & 0xf];
  }
  return out;
}

/**
 * Decodes a `grpc-message` value. Malformed escapes are kept as they are, as the
 * protocol asks of receivers.
 */
export function percentDecode(value: string): string {
  if (!value.includes("%")) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && i + 2 < value.length && isHex(value, i + 1) && isHex(value, i + 2)) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c & 0xff);
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

function isHex(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}
