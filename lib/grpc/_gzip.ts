/**
 * `grpc-encoding: gzip` for request messages, bounded so that a small compressed message
 * cannot expand past the receive limit (a zip bomb).
 *
 * @module
 */
import { Status, StatusError } from "./_status.ts";

/**
 * Decompresses a gzip message of at most `maxBytes` once expanded. Throws a StatusError:
 * RESOURCE_EXHAUSTED past the limit, INTERNAL for corrupt data.
 */
export async function gunzip(data: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > maxBytes) {
        throw new StatusError(
          Status.RESOURCE_EXHAUSTED,
          `grpc: received message after decompression larger than max (${maxBytes})`,
        );
      }
      parts.push(value);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    if (err instanceof StatusError) throw err;
    throw new StatusError(
      Status.INTERNAL,
      `grpc: failed to decompress the received message: ${
        err instanceof Error ? err.message : err
      }`,
    );
  } finally {
    reader.releaseLock();
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
