/**
 * README's "First pod" walkthrough, run as written against a real agent, so it cannot rot:
 * each command of the section's sh block goes through the test crictl
 * (`harness/crictl.ts`: the RPCs crictl makes, the output it prints, its reading of
 * `examples/pod.json` and `examples/container.json`), and what it prints must match the
 * output README shows under it. A verb, flag or config key crictl would not take, an example
 * the agent refuses, or output that differs from README fails the test.
 *
 * README pulls a public image (`docker.io/library/busybox:stable`); this machine reaches no
 * public registry, so the agent is configured the way README's registry note tells an
 * operator to use a mirror: `[image] mirrors = { "docker.io" = ["http://<test registry>"] }`.
 * The commands themselves run unchanged. The example pod logs where the kubelet's pods do,
 * under the real `/var/log/pods`; the test refuses to start when that pod's directory is
 * already there, and removes it at the end.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import { NamespaceMode } from "../api/gen/api.ts";
import { pushBaseImages } from "./fixtures/images.ts";
import { startRegistry } from "./fixtures/registry.ts";
import { TestAgent } from "./harness/agent.ts";
import { CriClient } from "./harness/cri_client.ts";
import {
  Crictl,
  loadContainerConfig,
  loadPodSandboxConfig,
  parseShellLine,
  type ShellCommand,
} from "./harness/crictl.ts";
import { testNetwork } from "./harness/env.ts";
import { leftovers, NOTHING } from "./harness/pods.ts";
import { codeBlock, outputMismatch, type Step, walkthrough } from "./harness/walkthrough.ts";
import { parse as parseToml } from "smol-toml";
import { resolveConfig } from "../config/mod.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** Verbs that only look: a newcomer reading `logs` a moment after `start` sees the line. */
const LOOKS = new Set(["ps", "logs"]);

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** `docker.io/<path>:<tag>` of an image reference, as the agent normalises it. */
function dockerHubPath(ref: string): { path: string; tag: string } | undefined {
  if (ref.includes("@")) return undefined;
  const slash = ref.indexOf("/");
  const first = slash < 0 ? "" : ref.slice(0, slash);
  const hasDomain = first !== "" && (/[.:]/.test(first) || first === "localhost");
  if (hasDomain && first !== "docker.io" && first !== "index.docker.io") return undefined;
  let rest = hasDomain ? ref.slice(slash + 1) : ref;
  const colon = rest.lastIndexOf(":");
  const tag = colon > rest.lastIndexOf("/") ? rest.slice(colon + 1) : "latest";
  if (colon > rest.lastIndexOf("/")) rest = rest.slice(0, colon);
  return { path: rest.includes("/") ? rest : `library/${rest}`, tag };
}

/**
 * Every image the walkthrough pulls must be a docker.io image the mirror serves: checked
 * before the agent sees it, because past a mirror that lacks it the agent would go on to
 * Docker Hub, and tests talk to loopback only.
 */
async function checkImagesServed(steps: readonly Step[], registryHost: string): Promise<void> {
  const refs: string[] = [];
  const vars = new Proxy({}, { get: () => "ID" }) as Record<string, string>;
  for (const s of steps) {
    const cmd: ShellCommand | undefined = parseShellLine(s.line, vars);
    const [, verb, ...args] = cmd?.argv ?? [];
    const positional = args.filter((a) => !a.startsWith("-"));
    if (verb === "pull") refs.push(positional[0] ?? "");
    if (verb === "create") {
      const c = await loadContainerConfig(`${ROOT}/${positional[1]}`);
      refs.push(c.image?.image ?? "");
    }
  }
  assert(refs.length > 0, "the walkthrough pulls no image");
  for (const ref of refs) {
    const hub = dockerHubPath(ref);
    if (!hub) {
      throw new Error(
        `README's image ${ref} is not a docker.io image: the test serves docker.io through ` +
          `the mirror setting README documents, and nothing else`,
      );
    }
    const res = await fetch(`http://${registryHost}/v2/${hub.path}/manifests/${hub.tag}`, {
      method: "HEAD",
      headers: {
        accept: "application/vnd.oci.image.index.v1+json, " +
          "application/vnd.docker.distribution.manifest.v2+json, " +
          "application/vnd.oci.image.manifest.v1+json",
      },
    });
    await res.body?.cancel();
    if (res.status !== 200) {
      throw new Error(
        `README's image ${ref} is not in the test registry (${res.status} for ` +
          `${hub.path}:${hub.tag}); it serves library/busybox:{latest,1.35,stable}`,
      );
    }
  }
}

Deno.test({
  name:
    "README's first pod: each crictl command runs against the agent and prints what README shows",
  ignore: Deno.uid() !== 0,
  async fn() {
    const steps = walkthrough(await Deno.readTextFile(`${ROOT}/README.md`), "First pod");
    const { config: pod } = await loadPodSandboxConfig(`${ROOT}/examples/pod.json`);
    const m = pod.metadata!;
    // The kubelet's layout: /var/log/pods/<namespace>_<name>_<uid>.
    assertEquals(pod.logDirectory, `/var/log/pods/${m.namespace}_${m.name}_${m.uid}`);
    // Its containers' own PID namespaces: a shared one needs the pause image, which only
    // registry.k8s.io serves (tests reach loopback only; a newcomer's node may not either).
    assertEquals(
      pod.linux?.securityContext?.namespaceOptions?.pid,
      NamespaceMode.CONTAINER,
      "examples/pod.json: namespace_options.pid must be 1 (CONTAINER)",
    );
    if (await exists(pod.logDirectory)) {
      throw new Error(
        `${pod.logDirectory} exists already (an earlier run of this test or of README's ` +
          `commands left it): remove it and run again`,
      );
    }

    await using registry = await startRegistry();
    await pushBaseImages(registry.host);
    await checkImagesServed(steps, registry.host);
    await using net = await testNetwork();
    try {
      await using agent = await TestAgent.start({
        cni: { confDir: net.confDir },
        image: `[image]\nmirrors = { "docker.io" = ["http://${registry.host}"] }`,
        logLevel: "info",
      });
      const client = new CriClient(agent.socket);
      try {
        const crictl = new Crictl(client, { cwd: ROOT });
        const vars: Record<string, string> = {};
        for (const step of steps) {
          const cmd = parseShellLine(step.line, vars)!;
          const [program, ...argv] = cmd.argv;
          assertEquals(program, "crictl", `README line ${step.lineNo}: ${step.line}`);
          const deadline = Date.now() + (LOOKS.has(argv[0] ?? "") ? 20_000 : 0);
          for (;;) {
            const r = await crictl.run(argv);
            // What the terminal shows: a captured command's stdout goes into the variable.
            const shown = r.output
              .filter((o) => !(cmd.assign && o.stream === "stdout"))
              .map((o) => o.text)
              .join("");
            const mismatch = r.code !== 0
              ? `exited ${r.code}`
              : outputMismatch(step.expected, shown);
            if (mismatch === undefined) {
              if (cmd.assign) vars[cmd.assign] = r.stdout.replace(/\n+$/, "");
              break;
            }
            if (Date.now() >= deadline) {
              throw new Error(
                `README line ${step.lineNo}: ${step.line}\n${mismatch}\n--- printed:\n${shown}` +
                  `--- README shows:\n${step.expected.join("\n")}\n--- agent:\n${agent.tail(20)}`,
              );
            }
            await new Promise((r) => setTimeout(r, 200));
          }
        }
        // The walkthrough ends with nothing of its pod left, but the logs the kubelet owns.
        assertEquals((await client.runtime.listPodSandbox({})).items, []);
        assertEquals(await leftovers(agent), NOTHING);
        assert(await exists(pod.logDirectory), `the pod logged elsewhere than ${pod.logDirectory}`);
      } finally {
        client.close();
      }
    } finally {
      await Deno.remove(pod.logDirectory, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test("README's registry note is a config the agent takes: its keys exist and validate", async () => {
  const block = codeBlock(await Deno.readTextFile(`${ROOT}/README.md`), "First pod", "toml");
  const raw = parseToml(block.lines.join("\n")) as Record<string, unknown>;
  const config = resolveConfig(raw, "README's [image] example");
  assertEquals(Object.keys(config.image.mirrors), ["docker.io"]);
  assert(config.image.insecureRegistries.length > 0, "README shows insecure_registries");
  assert(Object.keys(config.image.auths).length > 0, "README shows auths");
});
