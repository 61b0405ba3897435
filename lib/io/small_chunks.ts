/**
 * A connection's bytes as a stream of small chunks. `conn.readable` reads into a fresh
 * 64 KiB buffer per read, and a chunk handed on keeps its whole buffer alive: a reader
 * holding the rest of its last chunk while the next read waits keeps 128 KiB per idle
 * connection. The agent holds one such connection per container (and each shim one to the
 * agent), where messages are a few hundred bytes; reading `size` bytes at a time keeps
 * that to `2 × size`.
 *
 * @module
 */

/** 8 KiB: a control message fits; a 1 MiB frame takes 128 reads. */
export const SMALL_CHUNK_BYTES = 8192;

/**
 * The bytes of `conn` in chunks of at most `size`. Cancelling the stream does not close
 * `conn` (its owner does); a read failing because `conn` was closed ends the stream.
 */
export function smallChunks(
  conn: Deno.Conn,
  size: number = SMALL_CHUNK_BYTES,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buf = new Uint8Array(size);
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (err) {
        if (err instanceof Deno.errors.BadResource || err instanceof Deno.errors.Interrupted) {
          n = null;
        } else {
          controller.error(err);
          return;
        }
      }
      try {
        if (n === null) controller.close();
        else controller.enqueue(n === size ? buf : buf.slice(0, n));
      } catch {
        // Cancelled by the reader meanwhile: nobody wants these bytes.
      }
    },
  }, { highWaterMark: 0 });
}
