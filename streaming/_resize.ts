/**
 * Terminal resize events: the client writes JSON objects back to back on the resize stream
 * (client-go encodes `remotecommand.TerminalSize{Width, Height}` with a `json.Encoder`),
 * split across frames however the transport likes.
 *
 * @module
 */

import type { TerminalSize } from "../shim/protocol.ts";

/**
 * Splits a byte stream into top-level JSON objects and yields each one that is a valid
 * size. Keys match case-insensitively, as Go's decoder matches `Width`/`width`; malformed
 * objects are skipped, an endless object (over `maxObject` bytes) ends the stream.
 */
export async function* terminalSizes(
  source: AsyncIterable<Uint8Array>,
  maxObject = 4096,
): AsyncGenerator<TerminalSize> {
  const dec = new TextDecoder();
  let buf = "";
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for await (const chunk of source) {
    const text = dec.decode(chunk, { stream: true });
    for (const ch of text) {
      if (start >= 0) buf += ch;
      if (inString) {
        if (escaped) escaped = false;
        else if (ch === "\\") escaped = true;
        else if (ch === '"') inString = false;
        continue;
      }
      if (ch === '"') {
        if (start >= 0) inString = true;
      } else if (ch === "{") {
        if (depth === 0) {
          start = 0;
          buf = "{";
        }
        depth++;
      } else if (ch === "}" && depth > 0) {
        depth--;
        if (depth === 0) {
          const size = parseSize(buf);
          start = -1;
          buf = "";
          if (size) yield size;
        }
      }
      if (buf.length > maxObject) return;
    }
  }
}

function parseSize(json: string): TerminalSize | undefined {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  let width: unknown;
  let height: unknown;
  for (const [k, val] of Object.entries(v)) {
    const key = k.toLowerCase();
    if (key === "width") width = val;
    else if (key === "height") height = val;
  }
  const ok = (n: unknown): n is number =>
    typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffff;
  if (!ok(width) || !ok(height)) return undefined;
  return { width, height };
}
