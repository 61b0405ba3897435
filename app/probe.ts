/**
 * Probes of the node shared by `serve` (RuntimeReady) and `check` (preflight).
 *
 * @module
 */
import { which } from "../lib/exec.ts";

/** The result of a probe: ok, or why not and how to fix it. */
export interface ProbeResult {
  ok: boolean;
  message: string;
  fix?: string;
}

/** Is the OCI runtime binary present and runnable? Reports its version line. */
export async function probeRuntimeBinary(binary: string): Promise<ProbeResult> {
  const path = which(binary);
  if (!path) {
    return {
      ok: false,
      message: `OCI runtime "${binary}" not found on PATH`,
      fix: binary.endsWith("crun") ? "apt-get install -y crun" : "apt-get install -y runc",
    };
  }
  try {
    const out = await new Deno.Command(path, { args: ["--version"], stdin: "null" }).output();
    const first = new TextDecoder().decode(out.stdout).split("\n")[0]?.trim() ?? "";
    if (!out.success) {
      return {
        ok: false,
        message: `${path} --version failed: ${new TextDecoder().decode(out.stderr).trim()}`,
        fix: `reinstall ${binary}`,
      };
    }
    return { ok: true, message: `${path}: ${first}` };
  } catch (err) {
    return {
      ok: false,
      message: `cannot run ${path}: ${err instanceof Error ? err.message : String(err)}`,
      fix: `check the permissions of ${path}`,
    };
  }
}
