/**
 * WebSocket (RFC 6455), server side: framing, the accept key, and a connection with
 * ping/pong and the closing handshake. The HTTP upgrade itself is decided by the server.
 *
 * @module
 */
export {
  acceptKey,
  CloseCode,
  encodeWsFrame,
  isValidKey,
  Opcode,
  readWsFrame,
  type WsFrame,
  WsProtocolError,
} from "./_frames.ts";
export { WebSocketConnection, type WsConnectionOptions, type WsMessage } from "./_connection.ts";
