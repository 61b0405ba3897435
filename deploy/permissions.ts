// deno-lint-ignore-file no-console
/**
 * The Deno permission set deno.json holds, with the reason for every grant. deno.json cannot
 * carry comments, so this is the source: `deno.json`'s `"permissions"` is rendered from it,
 * and a test fails when the two drift.
 *
 *   deno run --allow-read --allow-write=deno.json deploy/permissions.ts --write
 *   deno run --allow-read deploy/permissions.ts --check
 *
 * There is one set, `agent`, and it is only where the CLI starts: `sauropod serve` and
 * `check` read the configuration under it, compute the agent's permissions from that
 * configuration (`app/permissions.ts`: its directories, the pod log roots, the OCI runtime,
 * the CNI plugins of its bin dirs, Deno itself) and re-exec under exactly those
 * (`app/reexec.ts`). No path of the configuration is written twice: not here, not in the
 * unit's command line. Shims get flags computed for their container
 * (`shim/client/_argv.ts`).
 *
 * @module
 */

/** One permission, as deno.json's `"permissions"` spells it. */
export type Grant = boolean | string[];

/** A named permission set (`deno run -P=<name>`). */
export interface PermissionSet {
  read?: Grant;
  write?: Grant;
  run?: Grant;
  env?: Grant;
  net?: Grant;
  sys?: Grant;
  ffi?: Grant;
}

/**
 * Where the CLI starts (`deno run -P=agent main.ts …`): it reads the configuration, its
 * drop-ins and the CNI bin dirs (`read`), resolves programs on PATH as the agent will
 * (`env: PATH`), and re-execs through libc's execve, reading its own command line through
 * `ffi/kernfs.ts` (`ffi`). It writes nothing, runs nothing and opens no socket.
 */
export function launcherSet(): PermissionSet {
  return { read: true, env: ["PATH"], ffi: true };
}

/** Every set deno.json holds, by name. */
export function permissionSets(): Record<string, PermissionSet> {
  return { agent: launcherSet() };
}

/**
 * `text` (deno.json) with its `"permissions"` object replaced by `sets`, everything else
 * byte for byte as it was.
 */
export function withPermissions(text: string, sets: Record<string, PermissionSet>): string {
  const key = text.indexOf('\n  "permissions": {');
  if (key < 0) throw new Error('deno.json has no top-level "permissions" object');
  const open = text.indexOf("{", key);
  let depth = 0;
  let end = open;
  for (; end < text.length; end++) {
    const c = text[end];
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) break;
  }
  const body = JSON.stringify(sets, null, 2).replaceAll("\n", "\n  ");
  return text.slice(0, open) + body + text.slice(end + 1);
}

/** The `"permissions"` of a deno.json text. */
export function readPermissions(text: string): Record<string, PermissionSet> {
  return (JSON.parse(text) as { permissions?: Record<string, PermissionSet> }).permissions ?? {};
}

if (import.meta.main) {
  const path = new URL("../deno.json", import.meta.url);
  const text = await Deno.readTextFile(path);
  const want = withPermissions(text, permissionSets());
  if (Deno.args[0] === "--write") {
    await Deno.writeTextFile(path, want);
  } else if (Deno.args[0] === "--check") {
    if (text !== want) {
      console.error("deno.json permissions are stale: deno run -A deploy/permissions.ts --write");
      Deno.exit(1);
    }
  } else {
    console.log(JSON.stringify(permissionSets(), null, 2));
  }
}
