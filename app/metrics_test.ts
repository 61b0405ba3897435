// test-permissions: --allow-net=127.0.0.1
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { nullLogger } from "../log/mod.ts";
import { MetricsSwitch } from "./metrics.ts";

const zero = () => 0;

function metricsSwitch(): MetricsSwitch {
  return new MetricsSwitch({
    logger: nullLogger,
    rpcs: ["/runtime.v1.RuntimeService/Version"],
    version: "test",
    secureUnixSocket: () => Promise.resolve(),
    sources: {
      containers: () => ({ created: 0, running: 3, exited: 0, unknown: 0 }),
      pods: () => ({ ready: 1, notready: 0 }),
      shims: () => ({ container: 3, pause: 0, spare: 1 }),
      oomKills: zero,
      eventsDropped: zero,
      shimsLost: zero,
      shimsReconnected: zero,
    },
  });
}

Deno.test("metrics switch: off records nothing and loads nothing; on serves what the hooks record", async () => {
  const sw = metricsSwitch();
  try {
    await sw.setAddress("");
    assertEquals(sw.metrics, undefined, "off: the families are not even built");
    assertEquals(sw.endpoint, undefined);
    const observer = sw.imageObserver();
    observer.pullStarted()({ bytes: 1, seconds: 1 }); // a no-op while off

    await sw.setAddress("127.0.0.1:0");
    assert(sw.metrics !== undefined && sw.endpoint !== undefined);
    sw.metrics.recordRpc("/runtime.v1.RuntimeService/Version", 0, 0.001);
    observer.pullStarted()({ bytes: 2048, seconds: 1 });
    const text = await (await fetch(`http://${sw.endpoint}/metrics`)).text();
    assertStringIncludes(text, 'sauropod_containers{state="running"} 3');
    assertStringIncludes(
      text,
      'sauropod_grpc_server_handled_total{grpc_service="runtime.v1.RuntimeService",grpc_method="Version",grpc_code="OK"} 1',
    );
    assertStringIncludes(text, "sauropod_image_pulls_bytes_total 2048");

    // Off again: the endpoint goes, the counting stays for when it comes back.
    await sw.setAddress("");
    assertEquals(sw.endpoint, undefined);
    assert(sw.metrics !== undefined);
  } finally {
    await sw.close();
  }
});
