/**
 * Streaming exec as `crictl exec` (and `kubectl exec` through the kubelet) does it: the
 * Exec RPC returns a URL on the runtime's streaming server, then a SPDY/3.1 session runs
 * `echo hello` with stdout and stderr streams until the exit status arrives, using the
 * client-go-faithful SPDY client of `streaming/testing/`.
 *
 * @module
 */
import { unavailable } from "../../errors/mod.ts";
import { SpdyRemoteCommand } from "../../streaming/testing/spdy_client.ts";
import { Pods } from "./_pods.ts";
import type { Workload } from "./types.ts";

const SESSION_TIMEOUT_MS = 20_000;

/** Runs the session behind `url` to its exit status, giving up after a deadline. */
async function session(url: string): Promise<{ stdout: string; status: string; code?: number }> {
  const cmd = await SpdyRemoteCommand.open(url, { stdout: true, stderr: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const r = await Promise.race([
      cmd.result(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(unavailable(`exec session ${url} did not end within ${SESSION_TIMEOUT_MS} ms`)),
          SESSION_TIMEOUT_MS,
        );
      }),
    ]);
    return {
      stdout: r.stdout,
      status: r.status.raw,
      ...(r.status.exitCode !== undefined ? { code: r.status.exitCode } : {}),
    };
  } finally {
    clearTimeout(timer);
    cmd.close();
  }
}

/** Exec RPC + SPDY session latency. */
export const execStream: Workload = {
  name: "exec-stream",
  title: "exec through the streaming server (Exec RPC + SPDY session)",
  quick: true,
  async run(ctx) {
    const rtt = ctx.figure({
      id: "exec-stream.rtt",
      label: "Exec + SPDY echo",
      unit: "ms",
      kind: "distribution",
    });
    const rpc = ctx.figure({
      id: "exec-stream.exec_rpc",
      label: "  Exec RPC (URL)",
      unit: "ms",
      kind: "distribution",
    });
    const pods = new Map(ctx.runtimes.map((rt) => [rt.name, new Pods(ctx, rt)]));
    const target = new Map<string, string>();
    try {
      await ctx.each(async (rt) => {
        const { pod } = await pods.get(rt.name)!.start("stream");
        target.set(rt.name, pod.containers[0]!);
      });
      const batch = 5;
      const warmup = 1;
      await ctx.alternate(warmup + ctx.pick(10, 2), async (rt, round) => {
        for (let k = 0; k < batch; k++) {
          const t0 = performance.now();
          const { url } = await rt.cri.runtime.exec({
            containerId: target.get(rt.name)!,
            cmd: ["echo", "hello"],
            stdout: true,
            stderr: true,
          });
          const t1 = performance.now();
          const r = await session(url);
          const t2 = performance.now();
          if (r.code !== 0 || r.stdout !== "hello\n") {
            throw unavailable(
              `exec via ${url} ended with ${r.status || "success"}, stdout ${
                JSON.stringify(r.stdout)
              }`,
            );
          }
          if (round < warmup) continue;
          rtt.add(rt.name, t2 - t0);
          rpc.add(rt.name, t1 - t0);
        }
      });
    } finally {
      for (const p of pods.values()) await p.removeAll().catch(() => {});
    }
  },
};
