/**
 * The CRI list streams (KEP-5825, `CRIListStreaming`) and the unary lists they replace share
 * two rules, kept here: a stream sends one snapshot of the list in batches of at most
 * {@link STREAM_MAX_ITEMS} items **and** at most {@link STREAM_MAX_BYTES} encoded bytes (or
 * the agent's send limit, if lower), as containerd's `sendInBatches` does, an item bigger
 * than that going alone; and a unary List whose answer would exceed the send limit fails
 * RESOURCE_EXHAUSTED naming the Stream RPC to use instead of a truncated answer.
 *
 * @module
 */
import { canceled, internal } from "../errors/mod.ts";

/** Items per streamed message at most (containerd's `DefaultStreamBatchSize`). */
export const STREAM_MAX_ITEMS = 5000;
/** Encoded bytes per streamed message at most: 1 MiB of headroom under gRPC's 16 MiB. */
export const STREAM_MAX_BYTES = 15 << 20;

/** How a stream cuts its list. */
export interface BatchLimits {
  /** Items per message at most. */
  readonly maxItems: number;
  /** Encoded bytes per message at most. */
  readonly maxBytes: number;
}

/** The batch limits of an agent whose largest sent message is `maxSendMessageBytes`. */
export function streamLimits(maxSendMessageBytes: number): BatchLimits {
  return { maxItems: STREAM_MAX_ITEMS, maxBytes: Math.min(STREAM_MAX_BYTES, maxSendMessageBytes) };
}

/**
 * A response message already in its wire form: what a stream sends when it has encoded the
 * items anyway to measure them, so that nothing is encoded twice. The codec `server.ts`
 * registers passes it through as is.
 */
export class PreEncoded {
  /** Wraps the encoded message `bytes`. */
  constructor(readonly bytes: Uint8Array) {}
}

/** Reads the protobuf varint at `at` of `buf`: its value and the offset after it. */
function readVarint(buf: Uint8Array, at: number): [number, number] {
  let value = 0;
  for (let shift = 1; at < buf.length; shift *= 0x80) {
    const b = buf[at++]!;
    value += (b & 0x7f) * shift;
    if (b < 0x80) return [value, at];
  }
  throw internal("a Stream*Response ends inside a varint");
}

/**
 * Sends the list of `message`, a whole Stream*Response encoded once by its own encoder (one
 * snapshot, so no item repeats across batches), through `send` in messages within `limits`.
 * A protobuf message is the concatenation of its fields, so each batch is a slice of
 * `message` cut between two items of its repeated field: nothing is encoded twice. An item
 * bigger than the byte budget goes alone. An empty list sends nothing (the stream just ends,
 * as containerd's). Stops with CANCELLED when `signal` aborts between batches.
 */
export async function sendInBatches(
  message: Uint8Array,
  limits: BatchLimits,
  signal: AbortSignal,
  send: (msg: PreEncoded) => Promise<void>,
): Promise<void> {
  let start = 0;
  let items = 0;
  let at = 0;
  const flush = async (end: number) => {
    if (signal.aborted) throw canceled("the stream was canceled by the client");
    const msg = new PreEncoded(message.subarray(start, end));
    start = end;
    items = 0;
    await send(msg);
  };
  while (at < message.length) {
    const [, afterTag] = readVarint(message, at);
    const [len, body] = readVarint(message, afterTag);
    const end = body + len;
    if (end > message.length) throw internal("a Stream*Response item runs past its end");
    if (items > 0 && (items >= limits.maxItems || end - start > limits.maxBytes)) {
      await flush(at);
    }
    items++;
    at = end;
  }
  if (items > 0) await flush(at);
}

/** The unary List RPCs that have a Stream RPC, and the field holding their list. */
export const STREAM_OF_LIST: Readonly<Record<string, { stream: string; field: string }>> = {
  ListPodSandbox: { stream: "StreamPodSandboxes", field: "items" },
  ListContainers: { stream: "StreamContainers", field: "containers" },
  ListContainerStats: { stream: "StreamContainerStats", field: "stats" },
  ListPodSandboxStats: { stream: "StreamPodSandboxStats", field: "stats" },
  ListPodSandboxMetrics: { stream: "StreamPodSandboxMetrics", field: "podMetrics" },
  ListImages: { stream: "StreamImages", field: "images" },
};

/**
 * The message of a unary List answer `msg` too big to send (`bytes` against `maxBytes`):
 * what was too big, by how much, and the Stream RPC that returns the same list in bounded
 * messages. Undefined for an RPC that has no Stream counterpart.
 */
export function oversizeMessage(
  rpc: string,
  msg: unknown,
  bytes: number,
  maxBytes: number,
): string | undefined {
  const s = STREAM_OF_LIST[rpc];
  if (!s) return undefined;
  const list = (msg as Record<string, unknown> | null)?.[s.field];
  const count = Array.isArray(list) ? `, ${list.length} items` : "";
  return `${rpc}: the answer (${bytes} bytes${count}) exceeds the ${maxBytes}-byte message ` +
    `limit (limits.max_send_message_bytes); use ${s.stream}, which sends the same list in parts`;
}
