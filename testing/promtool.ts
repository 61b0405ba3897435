/**
 * `promtool check metrics` (Debian's `prometheus` package) on an exposition text, for the
 * tests that hold sauropod's metrics to Prometheus's own linter.
 *
 * @module
 */
import { which } from "../lib/exec.ts";

/** promtool's path, when it is installed. */
export const PROMTOOL = which("promtool");

/** Runs `promtool check metrics` on `text`: its exit code and what it printed. */
export async function promtool(text: string): Promise<{ code: number; out: string }> {
  if (!PROMTOOL) throw new Error("promtool is not installed");
  const child = new Deno.Command(PROMTOOL, {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(text));
  await w.close();
  const r = await child.output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout) + dec.decode(r.stderr) };
}
