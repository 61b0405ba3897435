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
import { canceled } from "../errors/mod.ts";

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

/** Bytes of a protobuf varint holding `n`. */
function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
}

/**
 * Bytes an item of encoded length `n` adds to a message as a repeated field numbered below
 * 16 (every Stream*Response's list is field 1): one tag byte, the length, the item.
 */
export function repeatedFieldBytes(n: number): number {
  return 1 + varintLength(n) + n;
}

/**
 * Sends `items` (one snapshot, so no item repeats across batches) through `send` in batches
 * within `limits`; `encodedLength` measures one item with the message's own encoder. An
 * empty list sends nothing (the stream just ends, as containerd's). Stops with CANCELLED
 * when `signal` aborts between batches.
 */
export async function sendInBatches<T>(
  items: readonly T[],
  encodedLength: (item: T) => number,
  limits: BatchLimits,
  signal: AbortSignal,
  send: (batch: T[]) => Promise<void>,
): Promise<void> {
  let batch: T[] = [];
  let bytes = 0;
  const flush = async () => {
    if (signal.aborted) throw canceled("the stream was canceled by the client");
    const b = batch;
    batch = [];
    bytes = 0;
    await send(b);
  };
  for (const item of items) {
    const n = repeatedFieldBytes(encodedLength(item));
    if (batch.length > 0 && (batch.length >= limits.maxItems || bytes + n > limits.maxBytes)) {
      await flush();
    }
    batch.push(item);
    bytes += n;
  }
  if (batch.length > 0) await flush();
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
