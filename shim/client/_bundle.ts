/**
 * The shim as one JavaScript file: `deno bundle shim/server/main.ts`, written where the agent
 * keeps volatile state and used as the shims' entry instead of `main.ts`.
 *
 * Why: a shim started from the TypeScript sources keeps ~30 modules (their sources,
 * module records, transpile cache entries) in memory; from one bundled file it is 1.6 MiB
 * smaller per shim (USS 13.2 vs 14.9 MiB, 20 shims supervising `sleep`, measured with
 * `bench/shim_memory.ts`) and starts without transpiling. Not minified: shim logs keep
 * readable stack traces.
 *
 * @module
 */
import { internal } from "../../errors/mod.ts";

/** `shim/server/main.ts`, the bundle's root. */
export const SHIM_MAIN = new URL("../server/main.ts", import.meta.url).pathname;

/**
 * Bundles the shim into `out` (atomically: a shim starting meanwhile sees the old file or
 * the new one, never half of one) and returns `out`, ready as `ShimManager`'s `entry`.
 */
export async function bundleShim(out: string, opts: { denoPath?: string } = {}): Promise<string> {
  const tmp = `${out}.tmp-${Deno.pid}`;
  const r = await new Deno.Command(opts.denoPath ?? Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--no-config",
      "--no-lock",
      "--no-npm",
      "--no-remote",
      "--platform",
      "deno",
      SHIM_MAIN,
      "-o",
      tmp,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).output();
  if (!r.success) {
    await Deno.remove(tmp).catch(() => {});
    throw internal(
      `cannot bundle the shim: ${new TextDecoder().decode(r.stderr).trim() || `exit ${r.code}`}`,
    );
  }
  await Deno.rename(tmp, out);
  return out;
}
