/**
 * The end-to-end environment: a real registry with the test images, and a real agent
 * configured to use it (sandbox image = the registry's pause image). Disposing tears both
 * down; the agent's disposal removes every pod first.
 *
 * @module
 */
import { type TestImages, testRegistry } from "../fixtures/images.ts";
import { TestAgent, type TestAgentOptions } from "./agent.ts";
import { CriClient } from "./cri_client.ts";

/** A registry, an agent and a client. */
export interface E2eEnv extends AsyncDisposable {
  agent: TestAgent;
  client: CriClient;
  images: TestImages;
  /** Where pods' log directories go. */
  logRoot: string;
  /** The agent's CNI network. */
  network: TestNetwork;
}

/** A private CNI network for one test agent: its own bridge, subnet and IPAM state. */
export interface TestNetwork extends AsyncDisposable {
  confDir: string;
  bridge: string;
  subnet: string;
}

/**
 * Writes a bridge + host-local + loopback conflist into a temp dir, with a bridge name and
 * /24 subnet of its own (no NAT rules on the host). Disposing deletes the bridge and dir.
 */
export async function testNetwork(): Promise<TestNetwork> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-cni-" });
  const tag = crypto.randomUUID().replaceAll("-", "").slice(0, 6);
  const bridge = `spe${tag}`;
  const [a, b] = crypto.getRandomValues(new Uint8Array(2));
  const subnet = `10.${100 + (a! % 100)}.${b}.0/24`;
  const conf = {
    cniVersion: "1.0.0",
    name: `e2e-${tag}`,
    plugins: [
      {
        type: "bridge",
        bridge,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: "host-local", ranges: [[{ subnet }]], dataDir: `${dir}/ipam` },
      },
      { type: "loopback" },
    ],
  };
  await Deno.mkdir(`${dir}/net.d`);
  await Deno.writeTextFile(`${dir}/net.d/10-e2e.conflist`, JSON.stringify(conf, null, 2));
  return {
    confDir: `${dir}/net.d`,
    bridge,
    subnet,
    async [Symbol.asyncDispose]() {
      await new Deno.Command("ip", { args: ["link", "del", bridge], stderr: "null" }).output()
        .catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** The [sandbox] section naming the test pause image, plus `extra` TOML. */
export function sandboxConfig(pauseRef: string, extra = ""): string {
  return [`[sandbox]`, `image = "${pauseRef}"`, extra].join("\n");
}

/** Starts the environment; `agentOpts` are passed to the agent (config sections appended). */
export async function e2eEnv(agentOpts: TestAgentOptions = {}): Promise<E2eEnv> {
  const reg = await testRegistry();
  const net = await testNetwork();
  let agent: TestAgent | undefined;
  try {
    agent = await TestAgent.start({
      cni: { confDir: net.confDir },
      ...agentOpts,
      config: sandboxConfig(reg.images.pause.ref, agentOpts.config),
    });
    const logRoot = `${agent.dir}/pod-logs`;
    await Deno.mkdir(logRoot, { recursive: true });
    const client = new CriClient(agent.socket);
    const a = agent;
    return {
      agent: a,
      client,
      images: reg.images,
      logRoot,
      network: net,
      async [Symbol.asyncDispose]() {
        client.close();
        try {
          await a[Symbol.asyncDispose]();
        } finally {
          await net[Symbol.asyncDispose]();
          await reg[Symbol.asyncDispose]();
        }
      },
    };
  } catch (err) {
    await agent?.[Symbol.asyncDispose]();
    await net[Symbol.asyncDispose]();
    await reg[Symbol.asyncDispose]();
    throw err;
  }
}
