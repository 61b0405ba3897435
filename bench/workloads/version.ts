/**
 * Version round-trip: the cheapest RPC, so the figure is the transport (HTTP/2 and gRPC
 * framing on the unix socket) plus the handler's dispatch. With `--client process` each
 * call is a new client process and connection, and the client's start alone (no call) is
 * measured in the same alternation: a per-call cost both runtimes pay, to read the other
 * figures with or without it.
 *
 * @module
 */
import { clientStartMs } from "../_process_client.ts";
import type { Workload } from "./types.ts";

/** Version RPC latency. */
export const version: Workload = {
  name: "version",
  title: "Version round-trip",
  quick: true,
  async run(ctx) {
    const rtt = ctx.figure({
      id: "version.rtt",
      label: "Version round-trip",
      unit: "ms",
      kind: "distribution",
    });
    const perProcess = ctx.client === "process";
    const start = perProcess
      ? ctx.figure({
        id: "version.client_start",
        label: "client process start (no call)",
        unit: "ms",
        kind: "distribution",
      })
      : undefined;
    const warmup = perProcess ? 10 : 20;
    const n = perProcess ? ctx.pick(60, 20) : ctx.pick(500, 100);
    // Batches of 10 per turn keep the alternation fine-grained without a switch per call.
    await ctx.alternate(Math.ceil((warmup + n) / 10), async (rt, round) => {
      for (let k = 0; k < 10; k++) {
        const t0 = performance.now();
        await rt.cri.runtime.version({ version: "0.1.0" });
        const ms = performance.now() - t0;
        if (round * 10 + k >= warmup) rtt.add(rt.name, ms);
        if (start) {
          const s = await clientStartMs();
          if (round * 10 + k >= warmup) start.add(rt.name, s);
        }
      }
    });
  },
};
