import { assertEquals } from "../testing/assert.ts";
import { lastError } from "./_logs.ts";

Deno.test("lastError() picks the last error line of either runtime's log format", () => {
  const sauropod = [
    "2026-11-24T09:16:54.168Z INFO  starting sauropod version=0.1.0",
    '2026-11-24T09:16:54.169Z ERROR cannot start: Requires write access to "/tmp/x"',
    "2026-11-24T09:16:54.170Z INFO  stopped",
  ].join("\n");
  assertEquals(
    lastError(sauropod),
    '2026-11-24T09:16:54.169Z ERROR cannot start: Requires write access to "/tmp/x"',
  );
  const containerd =
    'time="…" level=info msg="x"\ntime="…" level=fatal msg="failed to load config"\n';
  assertEquals(lastError(containerd), 'time="…" level=fatal msg="failed to load config"');
  assertEquals(lastError("just one line\n"), "just one line");
});
