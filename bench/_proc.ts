/**
 * What `/proc` says about processes: who they are (by command line) and how much memory
 * they use. PSS (proportional set size, from `smaps_rollup`) is the figure for shims: it
 * splits shared pages (the deno or Go binary, libc) between the processes mapping them, so
 * summing it over N shims gives what they really cost together, where summing RSS would
 * count the shared binary N times.
 *
 * @module
 */

/** A process and its command line. */
export interface ProcessInfo {
  readonly pid: number;
  readonly argv: readonly string[];
}

/** Memory of one process, in bytes. */
export interface ProcessMemory {
  readonly pss: number;
  readonly rss: number;
}

const KIB = 1024;

/**
 * Parses `/proc/PID/smaps_rollup` (`Rss:`, `Pss:` lines in kB). Undefined when a field is
 * missing (kernels before 4.14 have no smaps_rollup).
 */
export function parseSmapsRollup(text: string): ProcessMemory | undefined {
  let pss: number | undefined;
  let rss: number | undefined;
  for (const line of text.split("\n")) {
    const m = /^(Rss|Pss):\s+(\d+)\s+kB$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === "Pss") pss = Number(m[2]) * KIB;
    else rss = Number(m[2]) * KIB;
  }
  return pss === undefined || rss === undefined ? undefined : { pss, rss };
}

/** Splits a NUL-separated `/proc/PID/cmdline`. */
export function parseCmdline(raw: string): string[] {
  const parts = raw.split("\0");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

/** Every process whose command line could be read (kernel threads have none). */
export async function listProcesses(): Promise<ProcessInfo[]> {
  const out: ProcessInfo[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const argv = parseCmdline(await Deno.readTextFile(`/proc/${e.name}/cmdline`));
      if (argv.length > 0) out.push({ pid: Number(e.name), argv });
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

/** PSS and RSS of `pid`, or undefined once it has exited. */
export async function processMemory(pid: number): Promise<ProcessMemory | undefined> {
  try {
    return parseSmapsRollup(await Deno.readTextFile(`/proc/${pid}/smaps_rollup`));
  } catch {
    return undefined;
  }
}

/** True while `pid` exists and is not a zombie. */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // The state follows the parenthesised command name, which may itself hold spaces.
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Sends SIGKILL to each pid (ignoring those already gone) and waits until they are gone. */
export async function killAndWait(pids: readonly number[], timeoutMs = 10_000): Promise<number[]> {
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  const deadline = Date.now() + timeoutMs;
  let alive = [...pids];
  while (alive.length > 0 && Date.now() < deadline) {
    alive = (await Promise.all(alive.map(async (p) => (await isAlive(p)) ? p : -1)))
      .filter((p) => p > 0);
    if (alive.length > 0) await new Promise((r) => setTimeout(r, 20));
  }
  return alive;
}
