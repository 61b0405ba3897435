/**
 * SPDY/3.1 as the Kubernetes streaming protocols use it: framing, the dictionary-primed
 * header compression, and a session that either accepts streams (the streaming server) or
 * opens them (the test client).
 *
 * @module
 */
export {
  decodeHeaderBlock,
  encodeFrame,
  encodeHeaderBlock,
  type Frame,
  GoAwayStatus,
  type HeaderMap,
  readFrame,
  RstStatus,
  SpdyProtocolError,
} from "./_frames.ts";
export { adler32, HeaderDeflater, HeaderInflater } from "./_compression.ts";
export { SPDY3_DICTIONARY } from "./_dictionary.ts";
export { SpdySession, type SpdySessionOptions, SpdyStream, SpdyStreamClosed } from "./_session.ts";
