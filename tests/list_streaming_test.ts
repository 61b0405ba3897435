/**
 * CRI list streaming (KEP-5825) end to end: on the same 120 containers in 4 pods (one
 * running per pod, the rest created, to stay cheap on 2 cores), every Stream RPC returns
 * exactly what its unary List returns, filter by filter; and with a lowered send limit a
 * unary List too big to send fails RESOURCE_EXHAUSTED naming its Stream RPC, while the
 * stream delivers the whole list in messages that each fit. A state filter outside its enum
 * is INVALID_ARGUMENT naming the field, from both forms.
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import {
  Container,
  type ContainerFilter,
  ContainerState,
  type ContainerStats,
  type PodSandboxFilter,
  PodSandboxState,
  type PodSandboxStats,
  StreamContainersResponse,
} from "../api/gen/api.ts";
import { type CriClient, CriError, type DeepPartial } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import { containerConfig, leftovers, NOTHING, podConfig } from "./harness/pods.ts";

const PODS = 4;
const PER_POD = 30;

async function collect<T, R>(stream: AsyncIterable<R>, pick: (r: R) => T[]): Promise<{
  items: T[];
  messages: number;
}> {
  const items: T[] = [];
  let messages = 0;
  for await (const m of stream) {
    messages++;
    items.push(...pick(m));
  }
  return { items, messages };
}

const statIds = (s: (ContainerStats | PodSandboxStats)[]) => s.map((x) => x.attributes?.id).sort();

/** Creates `n` containers in `podId` (the first one started), four at a time. */
async function fill(
  client: CriClient,
  podId: string,
  pod: ReturnType<typeof podConfig>,
  image: string,
  n: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 4) {
    const made = await Promise.all(
      Array.from({ length: Math.min(4, n - i) }, (_, k) =>
        client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig(`c${i + k}`, image, ["sleep", "100000"], {
            labels: { container: `c${i + k}`, parity: (i + k) % 2 ? "odd" : "even" },
          }),
          sandboxConfig: pod,
        })),
    );
    ids.push(...made.map((r) => r.containerId));
  }
  await client.runtime.startContainer({ containerId: ids[0]! });
  return ids;
}

Deno.test("list streaming: every Stream RPC returns its List's answer on 120 containers", async () => {
  await using env = await e2eEnv({ logLevel: "info" });
  const { client, images, logRoot } = env;
  const { runtime } = client;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pods: string[] = [];
  try {
    for (let p = 0; p < PODS; p++) {
      const pod = podConfig(logRoot, `ls${p}`);
      const podId = (await runtime.runPodSandbox({ config: pod })).podSandboxId;
      pods.push(podId);
      await fill(client, podId, pod, images.busybox.ref, PER_POD);
    }
    // One pod stopped, so state filters have something to tell apart.
    await runtime.stopPodSandbox({ podSandboxId: pods[PODS - 1]! });

    const podFilters: (DeepPartial<PodSandboxFilter> | undefined)[] = [
      undefined,
      { id: pods[1]! },
      { id: pods[1]!.slice(0, 12) },
      { id: "nope" },
      { state: { state: PodSandboxState.SANDBOX_READY } },
      { state: { state: PodSandboxState.SANDBOX_NOTREADY } },
      { labelSelector: { app: "ls2" } },
    ];
    for (const filter of podFilters) {
      const want = (await runtime.listPodSandbox(filter ? { filter } : {})).items;
      const got = await collect(
        runtime.streamPodSandboxes(filter ? { filter } : {}),
        (m) => m.podSandboxes,
      );
      assertEquals(got.items, want, `StreamPodSandboxes ${JSON.stringify(filter)}`);
      assertEquals(got.messages, want.length ? 1 : 0);
    }

    const ctrFilters: (DeepPartial<ContainerFilter> | undefined)[] = [
      undefined,
      { podSandboxId: pods[0]! },
      { state: { state: ContainerState.CONTAINER_RUNNING } },
      { state: { state: ContainerState.CONTAINER_CREATED } },
      { labelSelector: { parity: "odd" } },
      { podSandboxId: pods[2]!, labelSelector: { container: "c7" } },
      { id: "nope" },
    ];
    const all = (await runtime.listContainers({})).containers;
    assertEquals(all.length, PODS * PER_POD);
    for (const filter of ctrFilters) {
      const want = (await runtime.listContainers(filter ? { filter } : {})).containers;
      const got = await collect(
        runtime.streamContainers(filter ? { filter } : {}),
        (m) => m.containers,
      );
      assertEquals(got.items, want, `StreamContainers ${JSON.stringify(filter)}`);
    }
    const one = all[5]!;
    const byId = await collect(
      runtime.streamContainers({ filter: { id: one.id } }),
      (m) => m.containers,
    );
    assertEquals(byId.items, [one]);

    // Stats carry fresh readings: the same containers and pods, attribute for attribute.
    for (
      const filter of [undefined, { podSandboxId: pods[1]! }, { labelSelector: { parity: "even" } }]
    ) {
      const want = (await runtime.listContainerStats(filter ? { filter } : {})).stats;
      const got = await collect(
        runtime.streamContainerStats(filter ? { filter } : {}),
        (m) => m.containerStats,
      );
      assertEquals(
        statIds(got.items),
        statIds(want),
        `StreamContainerStats ${JSON.stringify(filter)}`,
      );
      assertEquals(
        got.items.map((s) => s.attributes).sort((a, b) => a!.id.localeCompare(b!.id)),
        want.map((s) => s.attributes).sort((a, b) => a!.id.localeCompare(b!.id)),
      );
    }
    for (const filter of [undefined, { id: pods[0]! }, { labelSelector: { app: "ls1" } }]) {
      const want = (await runtime.listPodSandboxStats(filter ? { filter } : {})).stats;
      const got = await collect(
        runtime.streamPodSandboxStats(filter ? { filter } : {}),
        (m) => m.podSandboxStats,
      );
      assertEquals(
        statIds(got.items),
        statIds(want),
        `StreamPodSandboxStats ${JSON.stringify(filter)}`,
      );
      assertEquals(
        got.items.map((s) => s.linux?.containers.length),
        want.map((s) => s.linux?.containers.length),
      );
    }

    // Figures for the report (no timed assertion: CI shares its cores): one warm-up each,
    // then 20 rounds alternating the two forms, so neither gets the other's warm caches.
    const pairs: [string, () => Promise<unknown>][] = [
      ["ListContainers", () => runtime.listContainers({})],
      ["StreamContainers", () => collect(runtime.streamContainers({}), (m) => m.containers)],
      ["ListContainerStats", () => runtime.listContainerStats({})],
      [
        "StreamContainerStats",
        () => collect(runtime.streamContainerStats({}), (m) => m.containerStats),
      ],
      ["ListPodSandboxMetrics", () => runtime.listPodSandboxMetrics({})],
      [
        "StreamPodSandboxMetrics",
        () => collect(runtime.streamPodSandboxMetrics({}), (m) => m.podSandboxMetrics),
      ],
    ];
    const total = new Map<string, number>();
    for (const [, f] of pairs) await f();
    for (let i = 0; i < 20; i++) {
      for (const [name, f] of pairs) {
        const t0 = performance.now();
        await f();
        total.set(name, (total.get(name) ?? 0) + performance.now() - t0);
      }
    }
    // deno-lint-ignore no-console -- the figures go into the closing note
    console.log(
      `${all.length} containers, mean of 20: ` +
        [...total].map(([n, ms]) => `${n} ${(ms / 20).toFixed(2)} ms`).join(", "),
    );
  } finally {
    for (const podSandboxId of pods) await runtime.removePodSandbox({ podSandboxId });
  }
  assertEquals(await leftovers(env.agent, ["/sauropod"]), NOTHING);
});

Deno.test("list streaming: a List over the send limit is RESOURCE_EXHAUSTED naming its Stream RPC", async () => {
  const limit = 4096;
  await using env = await e2eEnv({
    logLevel: "info",
    config: `[limits]\nmax_send_message_bytes = ${limit}`,
  });
  const { client, images, logRoot } = env;
  const { runtime } = client;
  await client.image.pullImage({ image: { image: images.busybox.ref } });
  const pod = podConfig(logRoot, "big");
  const podId = (await runtime.runPodSandbox({ config: pod })).podSandboxId;
  try {
    const ids = await fill(client, podId, pod, images.busybox.ref, 24);
    let err: unknown;
    try {
      await runtime.listContainers({});
    } catch (e) {
      err = e;
    }
    assert(err instanceof CriError, `ListContainers fails: ${err}`);
    assertEquals(err.code, 8 /* RESOURCE_EXHAUSTED */);
    assertStringIncludes(err.details, "ListContainers: the answer (");
    assertStringIncludes(err.details, "24 items");
    assertStringIncludes(err.details, "use StreamContainers");

    const sizes: number[] = [];
    const got: Container[] = [];
    for await (const m of runtime.streamContainers({})) {
      sizes.push(StreamContainersResponse.encode(m).finish().length);
      got.push(...m.containers);
    }
    assertEquals(got.map((c) => c.id).sort(), [...ids].sort());
    assert(sizes.length > 1, `several messages: ${sizes}`);
    assert(sizes.every((n) => n <= limit), `each message fits in ${limit} bytes: ${sizes}`);
    // A state that is no ContainerState: refused by both forms, naming the field.
    const bad = { filter: { state: { state: 7 as ContainerState } } };
    for (
      const call of [
        () => runtime.listContainers(bad),
        () => collect(runtime.streamContainers(bad), (m) => m.containers),
      ]
    ) {
      let e: unknown;
      try {
        await call();
      } catch (x) {
        e = x;
      }
      assert(e instanceof CriError, `bad state filter fails: ${e}`);
      assertEquals(e.code, 3 /* INVALID_ARGUMENT */);
      assertStringIncludes(e.details, "filter.state.state: 7 is not one of CONTAINER_CREATED");
    }
    // A filtered List that fits still answers.
    const small = await runtime.listContainers({ filter: { id: ids[3]! } });
    assertEquals(small.containers.map((c) => c.id), [ids[3]!]);
  } finally {
    await runtime.removePodSandbox({ podSandboxId: podId });
  }
  assertEquals(await leftovers(env.agent, ["/sauropod"]), NOTHING);
});
