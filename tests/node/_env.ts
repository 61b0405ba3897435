/**
 * One real-node test's world: a registry holding busybox and pause, a private CNI network,
 * and an agent configured with the cgroup driver and OCI runtime under test. The e2e
 * harness's `e2eEnv` pushes every fixture image, which costs ~15 s in the emulated guest;
 * the node tests need only these two. Disposing removes every pod, stops the agent, and
 * tears the network and the registry down.
 *
 * @module
 */
import { type BaseImages, pushBaseImages } from "../fixtures/images.ts";
import { startRegistry } from "../fixtures/registry.ts";
import { TestAgent } from "../harness/agent.ts";
import { CriClient } from "../harness/cri_client.ts";
import { sandboxConfig, type TestNetwork, testNetwork } from "../harness/env.ts";
import { reportOnHang } from "./_node.ts";

/** What a node test runs against. */
export interface NodeEnv extends AsyncDisposable {
  agent: TestAgent;
  client: CriClient;
  images: BaseImages;
  /** Where pods' log directories go. */
  logRoot: string;
  network: TestNetwork;
}

/** The agent settings a node test varies. */
export interface NodeEnvOptions {
  /** `runtime.cgroup_driver`. */
  driver: "cgroupfs" | "systemd";
  /** `runtime.binary`; default runc. */
  runtime?: "runc" | "crun";
  /** `[runtime.handlers.*]` tables (TOML) instead of `runtime.binary`. */
  handlers?: string;
}

/** Starts a registry, a network and an agent for one test. */
export async function nodeEnv(opts: NodeEnvOptions): Promise<NodeEnv> {
  const registry = await startRegistry();
  const undo: (() => PromiseLike<void> | void)[] = [() => registry.stop()];
  const unwind = async () => {
    for (const u of undo.splice(0).reverse()) {
      try {
        await u();
      } catch {
        // best effort: the rest of the teardown still runs
      }
    }
  };
  try {
    const images = await pushBaseImages(registry.host);
    const network = await testNetwork();
    undo.push(() => network[Symbol.asyncDispose]());
    const runtime = [
      `[runtime]`,
      `cgroup_driver = "${opts.driver}"`,
      opts.handlers ?? `binary = "${opts.runtime ?? "runc"}"`,
    ].join("\n");
    const agent = await TestAgent.start({
      cni: { confDir: network.confDir },
      config: sandboxConfig(images.pause.ref, runtime),
      logLevel: "info",
    });
    undo.push(() => agent[Symbol.asyncDispose]());
    const hang = reportOnHang(() => `agent log, last 20 lines:\n${agent.tail(20)}`);
    undo.push(() => hang[Symbol.dispose]());
    const logRoot = `${agent.dir}/pod-logs`;
    await Deno.mkdir(logRoot, { recursive: true });
    const client = new CriClient(agent.socket);
    undo.push(() => client.close());
    return { agent, client, images, logRoot, network, [Symbol.asyncDispose]: unwind };
  } catch (err) {
    await unwind();
    throw err;
  }
}
