/**
 * The agent's Prometheus metrics from outside, as an operator gets them: scraped from the
 * `[metrics] address` while a pod lives and dies (the counters move with what happened,
 * the exposition passes promtool), and scraped by a real Prometheus server (Debian's
 * `prometheus` package) whose query API then returns sauropod's series.
 */
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { type Family, parsePromText, sampleValue } from "../testing/prom_text.ts";
import { ContainerState } from "../api/gen/api.ts";
import { which } from "../lib/exec.ts";
import { PROMTOOL, promtool } from "../testing/promtool.ts";
import { e2eEnv } from "./harness/env.ts";
import { TestAgent } from "./harness/agent.ts";
import { CriClient } from "./harness/cri_client.ts";
import {
  containerConfig,
  eventually,
  leftovers,
  NOTHING,
  podConfig,
  runContainer,
} from "./harness/pods.ts";

const dec = new TextDecoder();
const PROMETHEUS = which("prometheus");

/** GET /metrics over a unix socket (HTTP/1.0: the server closes when done). */
async function scrapeUnix(path: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  await conn.write(new TextEncoder().encode("GET /metrics HTTP/1.0\r\nHost: metrics\r\n\r\n"));
  let raw = "";
  const buf = new Uint8Array(64 << 10);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    raw += dec.decode(buf.subarray(0, n), { stream: true });
  }
  conn.close();
  const [head, ...body] = raw.split("\r\n\r\n");
  assertStringIncludes(head!, " 200 ");
  assertStringIncludes(head!.toLowerCase(), "content-type: text/plain; version=0.0.4");
  return body.join("\r\n\r\n");
}

/** "" when promtool accepts `text`, else its exit code and what it printed. */
async function promtoolCheck(text: string): Promise<string> {
  const r = await promtool(text);
  return r.code === 0 ? "" : `exit ${r.code}: ${r.out}`;
}

/** A TCP port free on 127.0.0.1 now. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("metrics: scraped during a pod lifecycle, the counters move and promtool accepts it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-metrics-" });
  try {
    const sock = `${dir}/metrics.sock`;
    await using env = await e2eEnv({ config: `[metrics]\naddress = "unix://${sock}"` });
    const { client, images, logRoot } = env;
    const scrape = async (): Promise<Map<string, Family>> => parsePromText(await scrapeUnix(sock));
    const v = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}) =>
      sampleValue(f, name, labels) ?? 0;
    const rpc = (method: string, code = "OK") => ({ grpc_method: method, grpc_code: code });
    const sock0 = await Deno.stat(sock);
    assertEquals(sock0.mode! & 0o777, 0o660, "the socket is the agent's: mode 0660");

    const before = await scrape();
    assertEquals(v(before, "sauropod_pods", { state: "ready" }), 0);
    assertEquals(v(before, "sauropod_grpc_server_handled_total", rpc("RunPodSandbox")), 0);

    await client.image.pullImage({ image: { image: images.busybox.ref } });
    await client.image.pullImage({ image: { image: `${images.busybox.ref}-nope` } }).catch(
      () => {},
    );
    await client.runtime.containerStatus({ containerId: "f".repeat(64) }).catch(() => {});
    const pod = podConfig(logRoot, "metered");
    const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
    const id = await runContainer(
      client,
      podId,
      containerConfig("c", images.busybox.ref, ["sleep", "100000"]),
      pod,
    );
    // A second container the OOM killer ends: 64 MiB into a 32 MiB limit.
    const limit = 32n << 20n;
    const hog = await runContainer(
      client,
      podId,
      containerConfig("hog", images.busybox.ref, [
        "sh",
        "-c",
        "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
      ], { linux: { resources: { memoryLimitInBytes: limit, memorySwapLimitInBytes: limit } } }),
      pod,
    );
    await eventually("the hog to be OOM-killed", async () => {
      const s = (await client.runtime.containerStatus({ containerId: hog })).status!;
      return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
    }, 30_000);

    const during = await scrape();
    assertEquals(v(during, "sauropod_pods", { state: "ready" }), 1);
    assertEquals(v(during, "sauropod_containers", { state: "running" }), 1);
    assertEquals(v(during, "sauropod_containers", { state: "exited" }), 1);
    assertEquals(v(during, "sauropod_shims", { kind: "container" }), 2);
    assertEquals(v(during, "sauropod_containers_oom_total"), 1);
    assertEquals(v(during, "sauropod_image_pulls_success_total"), 1);
    assertEquals(v(during, "sauropod_image_pulls_failure_total", { reason: "not-found" }), 1);
    assert(v(during, "sauropod_image_pulls_bytes_total") > 0, "pulled bytes are counted");
    assertEquals(v(during, "sauropod_image_pull_throughput_bytes_per_second_count"), 1);
    assert(v(during, "sauropod_image_layer_unpack_seconds_count") >= 1, "unpacks are timed");
    assertEquals(v(during, "sauropod_image_pulls_in_progress"), 0);
    assertEquals(
      v(during, "sauropod_cni_operation_duration_seconds_count", { operation: "ADD" }),
      1,
    );
    assertEquals(v(during, "sauropod_grpc_server_handled_total", rpc("RunPodSandbox")), 1);
    assertEquals(v(during, "sauropod_grpc_server_handled_total", rpc("CreateContainer")), 2);
    assertEquals(v(during, "sauropod_grpc_server_handled_total", rpc("PullImage", "NotFound")), 1);
    assertEquals(
      v(during, "sauropod_grpc_server_handled_total", rpc("ContainerStatus", "NotFound")),
      1,
    );
    assertEquals(
      v(during, "sauropod_grpc_server_handling_seconds_count", { grpc_method: "StartContainer" }),
      2,
    );
    assert(v(during, "process_open_fds") > 0, "the agent counts its descriptors");
    assert(v(during, "process_max_fds") > 0, "and knows its limit");
    assert(v(during, "process_virtual_memory_bytes") > 0);
    assert(v(during, "process_resident_memory_bytes") > 10 << 20);
    const startedAt = v(during, "process_start_time_seconds");
    assert(Math.abs(startedAt - Date.now() / 1000) < 600, `start time ${startedAt}`);

    // An agent restart: the shims outlive it and are reconnected (never respawned), the
    // endpoint comes back on the same socket, and the process counters start again.
    // The client goes first: a connection cut under it by the agent's GOAWAY trips Deno's
    // node:http2 (as in recovery_test.ts).
    client.close();
    await env.agent.stop();
    await env.agent.launch();
    const again = new CriClient(env.agent.socket);
    await using _again = { [Symbol.asyncDispose]: () => Promise.resolve(again.close()) };
    const restarted = await scrape();
    assertEquals(v(restarted, "sauropod_shims_reconnected_total"), 2);
    assertEquals(v(restarted, "sauropod_shims_lost_total"), 0);
    assertEquals(v(restarted, "sauropod_containers", { state: "running" }), 1);
    assert(v(restarted, "process_start_time_seconds") >= startedAt, "a new process");

    await again.runtime.stopContainer({ containerId: id, timeout: 0 });
    await again.runtime.removePodSandbox({ podSandboxId: podId });
    await again.image.removeImage({ image: { image: images.busybox.ref } });

    const after = await scrape();
    assertEquals(v(after, "sauropod_pods", { state: "ready" }), 0);
    assertEquals(v(after, "sauropod_pods", { state: "notready" }), 0);
    assertEquals(v(after, "sauropod_containers", { state: "exited" }), 0);
    assertEquals(v(after, "sauropod_shims", { kind: "container" }), 0);
    assertEquals(
      v(after, "sauropod_cni_operation_duration_seconds_count", { operation: "DEL" }),
      1,
    );
    assertEquals(v(after, "sauropod_cni_operation_errors_total", { operation: "DEL" }), 0);
    assert(
      v(after, "sauropod_image_gc_seconds_count") > v(restarted, "sauropod_image_gc_seconds_count"),
      "RemoveImage collected garbage",
    );
    assert(v(after, "sauropod_image_gc_removed_total", { kind: "blob" }) > 0, "blobs deleted");
    assert(
      v(after, "process_cpu_seconds_total") >= v(restarted, "process_cpu_seconds_total"),
      "CPU time only grows",
    );
    assertEquals(v(after, "sauropod_shims_reconnected_total"), 2, "a counter stays");

    if (PROMTOOL) assertEquals(await promtoolCheck(await scrapeUnix(sock)), "", "promtool");
    assertEquals(await leftovers(env.agent), NOTHING);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test({
  name: PROMETHEUS
    ? "metrics: a real Prometheus server scrapes the agent and its API returns sauropod series"
    : "metrics: a real Prometheus server scrapes the agent (SKIPPED: prometheus is not " +
      "installed; `./run setup test` installs Debian's prometheus package)",
  ignore: !PROMETHEUS,
  fn: async () => {
    const metricsPort = freePort();
    await using agent = await TestAgent.start({
      config: `[metrics]\naddress = "127.0.0.1:${metricsPort}"`,
      logLevel: "info",
    });
    const client = new CriClient(agent.socket);
    const dir = await Deno.makeTempDir({ prefix: "sauropod-prometheus-" });
    let prometheus: Deno.ChildProcess | undefined;
    const out: string[] = [];
    try {
      await client.runtime.version({});
      const webPort = freePort();
      await Deno.writeTextFile(
        `${dir}/prometheus.yml`,
        [
          "global:",
          "  scrape_interval: 1s",
          "scrape_configs:",
          "  - job_name: sauropod",
          "    static_configs:",
          `      - targets: ["127.0.0.1:${metricsPort}"]`,
          "",
        ].join("\n"),
      );
      prometheus = new Deno.Command(PROMETHEUS!, {
        args: [
          `--config.file=${dir}/prometheus.yml`,
          `--storage.tsdb.path=${dir}/data`,
          `--web.listen-address=127.0.0.1:${webPort}`,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      for (const s of [prometheus.stdout, prometheus.stderr]) {
        void (async () => {
          for await (const chunk of s.pipeThrough(new TextDecoderStream())) out.push(chunk);
        })().catch(() => {});
      }
      const api = `http://127.0.0.1:${webPort}/api/v1/query?query=`;
      const query = async (q: string) => {
        const res = await fetch(api + encodeURIComponent(q));
        const body = await res.json() as {
          status: string;
          data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
        };
        return body.status === "success" ? body.data?.result ?? [] : [];
      };
      const versionCalls = await eventually(
        "Prometheus to have scraped the agent's Version calls",
        async () => {
          const r = await query(
            'sauropod_grpc_server_handled_total{grpc_method="Version",grpc_code="OK"}',
          );
          return r.length > 0 && Number(r[0]!.value[1]) >= 1 ? r : undefined;
        },
        45_000,
      ).catch((err) => {
        throw new Error(`${err.message}\nprometheus said:\n${out.join("").slice(-3000)}`);
      });
      assertEquals(versionCalls[0]!.metric.job, "sauropod");
      assertEquals(versionCalls[0]!.metric.grpc_service, "runtime.v1.RuntimeService");
      const up = await query('up{job="sauropod"}');
      assertEquals(up[0]?.value[1], "1", "the target is up");
      const info = await query("sauropod_build_info");
      assertEquals(info.length, 1);
      const cpu = await query("process_cpu_seconds_total");
      assert(Number(cpu[0]?.value[1]) > 0, "process metrics are scraped too");
    } finally {
      client.close();
      if (prometheus) {
        try {
          prometheus.kill("SIGTERM");
        } catch {
          // already gone
        }
        await prometheus.status;
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
