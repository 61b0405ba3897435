/**
 * runc's own error, from its `--log <file> --log-format json` output.
 *
 * When runc fails, its exit status and stderr often say only `can't get final child's PID
 * from pipe: EOF`; the reason (`exec: "foo": executable file not found in $PATH`, a
 * refused `oom_score_adj`…) is in the last `"level":"error"` entry of its log. This is the
 * one place that reads it.
 *
 * @module
 */

/** The `msg` of the last `"level":"error"` (or `fatal`) entry of runc's JSON log text. */
export function lastRuncError(logText: string): string | undefined {
  let found: string | undefined;
  for (const line of logText.split("\n")) {
    if (!line.startsWith("{")) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof entry !== "object" || entry === null) continue;
    const { level, msg } = entry as { level?: unknown; msg?: unknown };
    if ((level === "error" || level === "fatal") && typeof msg === "string" && msg !== "") {
      found = msg;
    }
  }
  return found;
}

/** The last non-empty line of runc's stderr, without logrus's `time=… level=error` noise. */
export function lastStderrLine(stderr: string): string | undefined {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const last = lines[lines.length - 1];
  if (last === undefined) return undefined;
  const m = last.match(/msg="((?:[^"\\]|\\.)*)"/);
  if (m) {
    try {
      return JSON.parse(`"${m[1]}"`);
    } catch {
      return m[1];
    }
  }
  return last.replace(/^ERRO\[\d+\]\s*/, "");
}
