/**
 * The CRI socket's safety rules: one live agent per socket, no world-writable socket
 * directory, mode 0660 owned by root and the configured group.
 *
 * @module
 */
import { failedPrecondition, invalidArgument } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

/**
 * Makes the socket path ready to listen on: creates its directory (0755), refuses a
 * world-writable directory, refuses when a live agent answers on the socket, and removes a
 * stale socket left by a crash.
 */
export async function prepareSocket(path: string, log: Logger): Promise<void> {
  if (!path.startsWith("/")) throw invalidArgument(`socket path "${path}" must be absolute`);
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await Deno.stat(dir);
  if (st.mode !== null && (st.mode & 0o002) !== 0) {
    throw failedPrecondition(
      `socket directory ${dir} is world-writable (mode ${(st.mode & 0o7777).toString(8)}): ` +
        `anyone could replace the CRI socket; use a directory only root can write`,
    );
  }
  let existing: Deno.FileInfo | undefined;
  try {
    existing = await Deno.lstat(path);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (!existing) return;
  if (!existing.isSocket) {
    throw failedPrecondition(`${path} exists and is not a socket; refusing to replace it`);
  }
  if (await answers(path)) {
    throw failedPrecondition(`another agent is already serving ${path}`);
  }
  log.info("removing stale socket left by a previous run", { socket: path });
  await Deno.remove(path);
}

async function answers(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Sets mode 0660 and the owning group (name or gid; empty keeps root's group). */
export async function secureSocket(path: string, group: string): Promise<void> {
  await Deno.chmod(path, 0o660);
  if (group === "") return;
  const gid = /^\d+$/.test(group) ? Number(group) : await gidOf(group);
  await Deno.chown(path, 0, gid);
}

async function gidOf(name: string): Promise<number> {
  const text = await Deno.readTextFile("/etc/group");
  for (const line of text.split("\n")) {
    const [n, , gid] = line.split(":");
    if (n === name && gid !== undefined) return Number(gid);
  }
  throw invalidArgument(`socket_group "${name}" is not a group in /etc/group`);
}
