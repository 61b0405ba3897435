/**
 * A TCP connection as a pair of web streams that half-close properly: what port-forwarding
 * relays for a pod on the node's network (and the streaming tests' loopback backend).
 *
 * @module
 */

/** A full-duplex byte stream whose writable side half-closes. */
export interface Duplex {
  /** Bytes from the peer; ends when it shuts down its sending side. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes for the peer; closing it shuts down our sending side (half-close). */
  readonly writable: WritableStream<Uint8Array>;
  /** Closes the connection both ways. Idempotent. */
  close(): void;
}

/**
 * `conn` as a duplex byte stream with a half-close. Not the bare `Deno.TcpConn` streams:
 * closing `conn.writable` closes the whole socket (a port-forwarded pod's reply after the
 * client's half-close was lost), and `conn.close()` then throws.
 */
export function tcpDuplex(conn: Deno.TcpConn): Duplex {
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  };
  const buf = new Uint8Array(64 * 1024);
  return {
    readable: new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const n = closed ? null : await conn.read(buf);
          if (n === null) c.close();
          else c.enqueue(buf.slice(0, n));
        } catch (err) {
          if (closed) c.close();
          else c.error(err);
        }
      },
      cancel: close,
    }),
    writable: new WritableStream<Uint8Array>({
      async write(chunk) {
        for (let off = 0; off < chunk.byteLength;) off += await conn.write(chunk.subarray(off));
      },
      // Half-close: the pod sees EOF and its reply still flows back.
      close: () => closed ? undefined : conn.closeWrite(),
      abort: close,
    }),
    close,
  };
}
