/**
 * The shim: one process per container that runs the OCI runtime, owns the container's
 * stdio and log, reaps its processes and records its exit. Its process entry is
 * `shim/server/main.ts` (dispatched by `main.ts shim …`); the agent talks to it through the
 * protocol re-exported here, and never imports the shim's internals.
 *
 * @module
 */
export * from "./protocol.ts";
