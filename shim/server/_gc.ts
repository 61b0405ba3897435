/**
 * Garbage collection after process work.
 *
 * Every runc call and exec leaves Deno's 64 KiB stream read buffers (and the wrappers of
 * closed pipes) as garbage. They live outside the JS heap, so a shim whose JS heap barely
 * grows may not collect for hundreds of execs: measured, its malloc'd memory grew by
 * about 250 KiB per ExecSync (4 MiB → 69 MiB after 400 execs) and stayed flat with a
 * collection after each. Freed late, that memory also stays fragmented in malloc's heap.
 * So a full collection follows such work shortly, at most a few times a second (needs
 * V8's `--expose-gc`, which the agent passes; without it this does nothing). A full GC of
 * a shim's small heap takes about a millisecond.
 *
 * @module
 */

/** Delay from the first request to the collection; requests meanwhile share it. */
const DELAY_MS = 200;

let pending: ReturnType<typeof setTimeout> | undefined;

/** Asks for one collection soon. */
export function scheduleGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined || pending !== undefined) return;
  pending = setTimeout(() => {
    pending = undefined;
    gc();
  }, DELAY_MS);
  // Never the reason the shim stays alive.
  Deno.unrefTimer(pending as unknown as number);
}
