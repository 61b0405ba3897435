/**
 * Messages between the {@link NetnsDialer} and its namespace workers.
 *
 * Flow control is stop-and-wait in both directions: the worker reads its socket again only
 * after the main thread acknowledged the previous chunk, and a write on the main side
 * completes when the worker has written the bytes to the socket.
 *
 * @module
 */

/** Main thread to worker. */
export type ToWorker =
  | { readonly t: "init"; readonly path: string }
  | { readonly t: "dial"; readonly id: number; readonly port: number }
  | { readonly t: "data"; readonly id: number; readonly chunk: Uint8Array }
  | { readonly t: "ack"; readonly id: number }
  | { readonly t: "end"; readonly id: number }
  | { readonly t: "close"; readonly id: number };

/** Worker to main thread. */
export type FromWorker =
  | { readonly t: "ready"; readonly netns: string }
  | { readonly t: "init-error"; readonly message: string; readonly errno: number }
  | { readonly t: "dialed"; readonly id: number }
  | { readonly t: "dial-error"; readonly id: number; readonly message: string }
  | { readonly t: "data"; readonly id: number; readonly chunk: Uint8Array }
  | { readonly t: "eof"; readonly id: number }
  | { readonly t: "written"; readonly id: number; readonly error?: string }
  | { readonly t: "error"; readonly id: number; readonly message: string }
  | { readonly t: "closed"; readonly id: number };
