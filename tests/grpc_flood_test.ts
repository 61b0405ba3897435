/**
 * The CRI socket under a flood of partial messages (security review L5): one connection with
 * 1000 streams, each sending 15 MiB of a message one byte longer and never finishing it, gets
 * no further than the agent's per-connection bound, the agent's memory stays within reach of
 * that bound, and the agent keeps serving other clients meanwhile.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { flood } from "../lib/grpc/testing/flood.ts";
import { TestAgent } from "./harness/agent.ts";
import { CriClient } from "./harness/cri_client.ts";

const MiB = 1 << 20;
const STREAMS = 1000;
/** One connection's bound: every stream's 64 KiB window plus a pool of two 16 MiB messages. */
const BOUND = STREAMS * 65_535 + 2 * (16 * MiB + 5);
/**
 * Growth of the agent's RSS allowed under the flood: the bound, plus the garbage a message
 * buffer leaves as it doubles, plus V8's own. Without a bound the flood would reach 15 GB;
 * it is stopped as soon as it passes this.
 */
const MAX_GROWTH = 3 * BOUND;

/** Resident memory of `pid`, in bytes. */
async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb[1]) * 1024;
}

Deno.test("grpc flood: 1000 streams each sending 15 MiB of a message leave the agent's memory bounded", async () => {
  // Every stream becomes a call: the worst case for the agent.
  await using agent = await TestAgent.start({
    logLevel: "warn",
    config: `[limits]\nmax_concurrent_calls = ${2 * STREAMS}\n`,
  });
  const client = new CriClient(agent.socket);
  const conn = await Deno.connect({ transport: "unix", path: agent.socket });
  try {
    await client.runtime.version({});
    const before = await rss(agent.pid);
    let peak = before;
    const result = await flood(conn, {
      streams: STREAMS,
      path: "/runtime.v1.RuntimeService/CreateContainer",
      declared: 15 * MiB + 1,
      perStream: 15 * MiB,
      onBatch: async () => {
        peak = Math.max(peak, await rss(agent.pid));
        return peak - before <= MAX_GROWTH;
      },
    });
    peak = Math.max(peak, await rss(agent.pid));
    const report = `sent ${(result.sent / MiB).toFixed(1)} MiB (bound ${
      (BOUND / MiB).toFixed(1)
    } MiB), RSS ${(before / MiB).toFixed(0)} → ${
      (peak / MiB).toFixed(0)
    } MiB, ended: ${result.end}`;
    // deno-lint-ignore no-console -- the figures go into the closing note
    console.log(report);
    assertEquals(result.end, "stalled", report);
    assertEquals(result.ended, 0, report);
    assert(result.sent <= BOUND, report);
    assert(peak - before <= MAX_GROWTH, report);
    // The flooded connection holds its bound; everyone else is served.
    assertEquals((await client.runtime.version({})).runtimeName, "sauropod");
  } finally {
    conn.close();
    client.close();
  }
});
