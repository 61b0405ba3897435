/**
 * The shim: one process per container that runs the OCI runtime, owns the container's
 * stdio and log, reaps its processes and records its exit.
 *
 * - `server/`: the shim process (`server/main.ts`, dispatched by `main.ts shim …`), and its
 *   one-shot `delete`/`list` commands;
 * - `client/`: the agent's side (`ShimManager`, one `ShimHandle` per container);
 * - `protocol.ts`: the wire contract between them, and the shapes both share.
 *
 * The agent imports `client/` and the protocol, never the server's internals.
 *
 * @module
 */
export * from "./protocol.ts";
