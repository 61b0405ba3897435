// test-permissions: --allow-net --allow-read=/tmp --allow-write=/tmp
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { nullLogger } from "../log/mod.ts";
import { MetricsEndpoint } from "./server.ts";

const metrics = {
  expose: () => Promise.resolve("# HELP x_total x\n# TYPE x_total counter\nx_total 1\n"),
  contentType: "text/plain; version=0.0.4; charset=utf-8",
};

Deno.test("metrics endpoint: GET /metrics on loopback, 404 elsewhere, 405 for other methods", async () => {
  const ep = new MetricsEndpoint({ metrics, logger: nullLogger });
  try {
    await ep.reconfigure("127.0.0.1:0");
    const base = `http://${ep.endpoint}`;
    const res = await fetch(`${base}/metrics`);
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), metrics.contentType);
    assertStringIncludes(await res.text(), "x_total 1");
    const other = await fetch(`${base}/`);
    assertEquals(other.status, 404);
    await other.body?.cancel();
    const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
    assertEquals(post.status, 405);
    await post.body?.cancel();
  } finally {
    await ep.close();
  }
});

Deno.test("metrics endpoint: rebinds in place; a bad address keeps the old one; empty stops", async () => {
  const ep = new MetricsEndpoint({ metrics, logger: nullLogger });
  const busy = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await ep.reconfigure("127.0.0.1:0");
    const first = ep.endpoint!;
    await ep.reconfigure("127.0.0.2:0");
    const second = ep.endpoint!;
    assert(second.startsWith("127.0.0.2:"), second);
    await assertRejects(() => fetch(`http://${first}/metrics`));
    // A port in use: the error names the key, and the endpoint stays where it was.
    const taken = `127.0.0.1:${(busy.addr as Deno.NetAddr).port}`;
    await assertRejects(() => ep.reconfigure(taken), Error, "metrics.address");
    assertEquals(ep.endpoint, second);
    const res = await fetch(`http://${second}/metrics`);
    assertEquals(res.status, 200);
    await res.body?.cancel();
    await ep.reconfigure("");
    assertEquals(ep.endpoint, undefined);
    await assertRejects(() => fetch(`http://${second}/metrics`));
  } finally {
    busy.close();
    await ep.close();
  }
});

Deno.test("metrics endpoint: a unix socket replaces a stale socket but never another file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-metrics-" });
  const ep = new MetricsEndpoint({ metrics, logger: nullLogger });
  try {
    const path = `${dir}/m.sock`;
    // A socket left by a crashed agent.
    const stale = Deno.listen({ transport: "unix", path });
    stale.close();
    await Deno.writeTextFile(`${dir}/file`, "mine");
    await assertRejects(
      () => ep.reconfigure(`unix://${dir}/file`),
      Error,
      "exists and is not a socket",
    );
    assertEquals(await Deno.readTextFile(`${dir}/file`), "mine");
    await ep.reconfigure(`unix://${path}`);
    assertEquals(ep.endpoint, path);
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    await ep.close();
    await assertRejects(() => Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await ep.close();
    await Deno.remove(dir, { recursive: true });
  }
});
