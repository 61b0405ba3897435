/**
 * The CRI streaming server: Exec, Attach and PortForward return a single-use URL on it,
 * and crictl or the kubelet connect there with SPDY/3.1 or WebSocket to run the session.
 *
 * - {@link StreamingServer}: listens, mints URLs (`execUrl`, `attachUrl`,
 *   `portForwardUrl`), serves the remote-command protocols `channel.k8s.io` to
 *   `v5.channel.k8s.io` and `portforward.k8s.io` (also tunnelled over WebSocket).
 * - {@link StreamingBackend}: what the runtime provides (exec, attach, dial into a pod).
 * - {@link NetnsDialer}: dials `127.0.0.1:port` inside a pod's pinned network namespace,
 *   for the backend's `portForward`.
 *
 * @module
 */
export {
  type AttachUrlRequest,
  type ExecUrlRequest,
  type PortForwardUrlRequest,
  StreamingServer,
  type StreamingServerOptions,
} from "./server.ts";
export type {
  PortForwardConnection,
  StdioSession,
  StreamingBackend,
  TerminalSize,
} from "./_types.ts";
export { NetnsDialer, type NetnsDialerOptions } from "./netns_dial.ts";
