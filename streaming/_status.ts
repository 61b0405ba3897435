/**
 * The outcome of an exec or attach as the error stream carries it.
 *
 * Protocol v4 and v5 send a JSON `metav1.Status`: `Success`, or `Failure` with reason
 * `NonZeroExitCode` and the code as the message of a cause of type `ExitCode` (client-go's
 * `errorDecoderV4` parses that cause with `strconv.ParseUint(…, 10, 8)`), or `InternalError`.
 * Versions 1 to 3 send only the failure's message as text, and nothing on success.
 *
 * @module
 */

/** A `metav1.Status` as the kubelet streaming library writes it. */
export interface CommandStatus {
  readonly status: "Success" | "Failure";
  readonly message?: string;
  readonly reason?: string;
  readonly details?: { readonly causes: readonly { reason?: string; message?: string }[] };
  readonly code?: number;
}

/** The command finished with exit code 0 (or an attach ended normally). */
export const SUCCESS: CommandStatus = { status: "Success" };

/** The command exited with `code` (non-zero). */
export function exitCodeStatus(code: number, cmd: readonly string[]): CommandStatus {
  return {
    status: "Failure",
    // The message containerd's exec path produces, through the kubelet library's wording.
    message: `command terminated with non-zero exit code: error executing command [${
      cmd.join(" ")
    }], exit code ${code}`,
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: String(code) }] },
  };
}

/** The exec or attach could not run (container not running, backend failure, …). */
export function internalErrorStatus(message: string): CommandStatus {
  return {
    status: "Failure",
    message: `Internal error occurred: ${message}`,
    reason: "InternalError",
    details: { causes: [{ message }] },
    code: 500,
  };
}

const enc = new TextEncoder();

/** The v4/v5 encoding: JSON in Go's field order (`metadata` first, as `json.Marshal` does). */
export function encodeStatusV4(s: CommandStatus): Uint8Array {
  return enc.encode(JSON.stringify({
    metadata: {},
    status: s.status,
    ...(s.message !== undefined ? { message: s.message } : {}),
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
    ...(s.details !== undefined ? { details: s.details } : {}),
    ...(s.code !== undefined ? { code: s.code } : {}),
  }));
}

/** The v1–v3 encoding: the failure message as text; nothing for success. */
export function encodeStatusV1(s: CommandStatus): Uint8Array | undefined {
  if (s.status === "Success") return undefined;
  return enc.encode(s.message ?? "");
}
