/**
 * The one place where sauropod's error kinds become gRPC status codes (containerd's
 * `errgrpc.ToGRPC`). Every CRI handler throws `SauropodError`; the server calls
 * {@link toStatus} on whatever a handler throws.
 *
 * @module
 */
import { type ErrorKind, kindOf, messageOf } from "../errors/mod.ts";
import { Status, StatusError } from "../lib/grpc/mod.ts";

const CODES: Record<ErrorKind, Status> = {
  "not-found": Status.NOT_FOUND,
  "already-exists": Status.ALREADY_EXISTS,
  "invalid-argument": Status.INVALID_ARGUMENT,
  "failed-precondition": Status.FAILED_PRECONDITION,
  "unavailable": Status.UNAVAILABLE,
  "unimplemented": Status.UNIMPLEMENTED,
  "deadline-exceeded": Status.DEADLINE_EXCEEDED,
  "canceled": Status.CANCELLED,
  "resource-exhausted": Status.RESOURCE_EXHAUSTED,
  "permission-denied": Status.PERMISSION_DENIED,
  "internal": Status.INTERNAL,
};

/** The gRPC status code of an error kind. */
export function codeOf(kind: ErrorKind): Status {
  return CODES[kind];
}

/** Maps anything a handler throws to a status code and message. */
export function toStatus(err: unknown): { code: Status; message: string } {
  if (err instanceof StatusError) return { code: err.code, message: err.message };
  return { code: CODES[kindOf(err)], message: messageOf(err) };
}
