/**
 * Reading the daemons' logs for error messages: sauropod's text lines (`… ERROR msg`) and
 * containerd's logfmt (`level=error msg=…`).
 *
 * @module
 */

/** The last line of `log` that reports an error (or its last line): why a daemon died. */
export function lastError(log: string): string {
  const lines = log.trimEnd().split("\n");
  return [...lines].reverse().find((l) => /\b(ERROR|FATAL|level=(error|fatal))\b/.test(l)) ??
    lines.at(-1) ?? "";
}
