/**
 * Network statistics of a pod, for `PodSandboxStats`: the counters of every interface in
 * its pinned netns.
 *
 * The counters are read by `nsenter --net=<netns> cat /proc/net/dev` (`/proc/net` shows
 * the netns of the reading process), so the agent never enters the namespace itself.
 *
 * @module
 */
import { internal, notFound } from "../errors/mod.ts";
import { isLiveNamespace } from "./namespaces.ts";
import { runProcess, tailText } from "./_exec.ts";
import { parseProcNetDev } from "./_netdev.ts";
import type { NetworkStats } from "./types.ts";

const STATS_TIMEOUT_MS = 10_000;

/** Reads the traffic counters of every interface (loopback included) in `netnsPath`. */
export async function readInterfaceStats(netnsPath: string): Promise<NetworkStats> {
  if (!(await isLiveNamespace(netnsPath))) {
    throw notFound(`network namespace ${netnsPath} does not exist`);
  }
  const out = await runProcess("nsenter", {
    args: [`--net=${netnsPath}`, "--", "cat", "/proc/net/dev"],
    timeoutMs: STATS_TIMEOUT_MS,
    what: `reading interface counters in ${netnsPath}`,
  });
  const timestampNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
  if (out.code !== 0) {
    throw internal(
      `cannot read interface counters in ${netnsPath}: nsenter exited with ${out.code}: ${
        tailText(out.stderr)
      }`,
    );
  }
  return { timestampNs, interfaces: parseProcNetDev(new TextDecoder().decode(out.stdout)) };
}
