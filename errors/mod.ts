/**
 * The one error vocabulary of sauropod.
 *
 * Every layer throws {@link SauropodError} with a {@link ErrorKind}; the CRI transport
 * converts the kind to a gRPC status in exactly one place (`cri/status.ts`). Context is
 * added by wrapping with `{ cause }`, and the predicates walk the cause chain, so a
 * `Deno.errors.NotFound` three levels down still reads as not-found.
 *
 * @module
 */

/** What went wrong, in the words of the CRI contract (containerd's errdefs). */
export type ErrorKind =
  | "not-found"
  | "already-exists"
  | "invalid-argument"
  | "failed-precondition"
  | "unavailable"
  | "unimplemented"
  | "deadline-exceeded"
  | "canceled"
  | "resource-exhausted"
  | "permission-denied"
  | "internal";

/** An error with a kind. Messages say what failed and on what. */
export class SauropodError extends Error {
  /** The kind, mapped to a gRPC status code by the transport. */
  readonly kind: ErrorKind;

  /** Creates an error of `kind`; pass `{ cause }` to keep the underlying error. */
  constructor(kind: ErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SauropodError";
    this.kind = kind;
  }
}

/** Shorthand constructors, one per kind: `notFound("container \"x\" not found")`. */
export const notFound = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("not-found", msg, options);
/** An object with that name or id already exists. */
export const alreadyExists = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("already-exists", msg, options);
/** The caller sent something malformed; the message names the field. */
export const invalidArgument = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("invalid-argument", msg, options);
/** The object is in the wrong state for the call. */
export const failedPrecondition = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("failed-precondition", msg, options);
/** A dependency (registry, shim, runtime binary) cannot be reached right now. */
export const unavailable = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("unavailable", msg, options);
/** The call exists in the API but is not implemented. */
export const unimplemented = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("unimplemented", msg, options);
/** A deadline passed before the work finished. */
export const deadlineExceeded = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("deadline-exceeded", msg, options);
/** The caller went away or the agent is shutting down. */
export const canceled = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("canceled", msg, options);
/** A size or concurrency limit was hit. */
export const resourceExhausted = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("resource-exhausted", msg, options);
/** The operating system or a policy refused the action. */
export const permissionDenied = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("permission-denied", msg, options);
/** A bug or an unexpected failure of the machine. */
export const internal = (msg: string, options?: ErrorOptions): SauropodError =>
  new SauropodError("internal", msg, options);

/** Maps Deno's own error classes onto the vocabulary. */
function kindOfDenoError(err: unknown): ErrorKind | undefined {
  if (err instanceof Deno.errors.NotFound) return "not-found";
  if (err instanceof Deno.errors.AlreadyExists) return "already-exists";
  if (err instanceof Deno.errors.PermissionDenied) return "permission-denied";
  if (err instanceof Deno.errors.NotCapable) return "permission-denied";
  if (err instanceof Deno.errors.TimedOut) return "deadline-exceeded";
  if (err instanceof Deno.errors.Interrupted) return "canceled";
  if (err instanceof Deno.errors.InvalidData) return "invalid-argument";
  if (err instanceof Deno.errors.ConnectionRefused) return "unavailable";
  if (err instanceof Deno.errors.ConnectionReset) return "unavailable";
  if (err instanceof Deno.errors.NotConnected) return "unavailable";
  // ENOSPC and EDQUOT have no Deno error class: a full disk is a limit, not a bug.
  if (
    err instanceof Error &&
    /\(os error (28|122)\)|No space left on device|disk is full/.test(err.message)
  ) {
    return "resource-exhausted";
  }
  if (err instanceof DOMException && err.name === "AbortError") return "canceled";
  if (err instanceof DOMException && err.name === "TimeoutError") return "deadline-exceeded";
  return undefined;
}

/**
 * The kind of an error: the first {@link SauropodError} or recognised Deno error along the
 * cause chain, else `internal`.
 */
export function kindOf(err: unknown): ErrorKind {
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 16; depth++) {
    if (cur instanceof SauropodError) return cur.kind;
    const k = kindOfDenoError(cur);
    if (k) return k;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return "internal";
}

/** True when the error (or one it wraps) means the object does not exist. */
export const isNotFound = (err: unknown): boolean => kindOf(err) === "not-found";
/** True when the error (or one it wraps) means the object already exists. */
export const isAlreadyExists = (err: unknown): boolean => kindOf(err) === "already-exists";
/** True when the error (or one it wraps) is a bad argument. */
export const isInvalidArgument = (err: unknown): boolean => kindOf(err) === "invalid-argument";
/** True when the error (or one it wraps) is a wrong-state error. */
export const isFailedPrecondition = (err: unknown): boolean =>
  kindOf(err) === "failed-precondition";
/** True when the error (or one it wraps) is a passing unavailability. */
export const isUnavailable = (err: unknown): boolean => kindOf(err) === "unavailable";

/** A readable message for any thrown value, without the stack. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Wraps `err` with context, keeping its kind unless `kind` is given:
 * `wrap(e, "cannot start container \"abc\"")` → `cannot start container "abc": <e.message>`.
 */
export function wrap(err: unknown, context: string, kind?: ErrorKind): SauropodError {
  return new SauropodError(kind ?? kindOf(err), `${context}: ${messageOf(err)}`, { cause: err });
}
