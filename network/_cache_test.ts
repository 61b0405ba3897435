// test-permissions: --allow-read=/tmp --allow-write=/tmp
import { assertEquals } from "../testing/assert.ts";
import { type Attachment, AttachmentCache } from "./_cache.ts";

const ENTRY: Attachment = {
  podId: "p1",
  state: "added",
  network: "pods",
  cniVersion: "1.0.0",
  plugins: [{ type: "bridge", bridge: "b0" }, { type: "loopback" }],
  source: "/etc/cni/net.d/10-pods.conflist",
  ifName: "eth0",
  netnsPath: "/run/sauropod/ns/p1/net",
  args: [["IgnoreUnknown", "1"], ["K8S_POD_NAME", "web"]],
  caps: { portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "tcp" }] },
  result: { cniVersion: "1.0.0", ips: [{ address: "10.88.0.2/16" }] },
};

async function withCache(fn: (cache: AttachmentCache, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-cnicache-" });
  try {
    await fn(new AttachmentCache(`${dir}/cni`), `${dir}/cni`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("AttachmentCache round-trips a record and forgets it", async () => {
  await withCache(async (cache, dir) => {
    assertEquals(await cache.read("p1"), undefined);
    assertEquals(await cache.list(), []);
    await cache.write(ENTRY);
    assertEquals(await cache.read("p1"), ENTRY);
    assertEquals(await cache.list(), ["p1"]);
    await cache.write({ ...ENTRY, podId: "p0", state: "adding" });
    assertEquals(await cache.list(), ["p0", "p1"]);
    await cache.remove("p1");
    await cache.remove("p1");
    assertEquals(await cache.read("p1"), undefined);
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assertEquals(names, ["p0.json"], "no temp files left behind");
  });
});

Deno.test("AttachmentCache reports a truncated or foreign record as corrupt", async () => {
  await withCache(async (cache, dir) => {
    await cache.write(ENTRY);
    const text = await Deno.readTextFile(`${dir}/p1.json`);
    await Deno.writeTextFile(`${dir}/p1.json`, text.slice(0, 40));
    assertEquals(await cache.read("p1"), "corrupt");
    await Deno.writeTextFile(`${dir}/p1.json`, JSON.stringify({ podId: "p1", plugins: [] }));
    assertEquals(await cache.read("p1"), "corrupt");
  });
});
