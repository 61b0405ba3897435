import { assertEquals } from "../../testing/assert.ts";

const SCRIPT = new URL("./testdata/reaper_stress.ts", import.meta.url).pathname;

Deno.test({
  name: "the reaper never steals a Deno.Command exit status while reaping orphans under load",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const rounds = 300;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SCRIPT, String(rounds)],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.success, true, stderr);
    const r = JSON.parse(new TextDecoder().decode(out.stdout));
    assertEquals(r.errors, []);
    assertEquals(r.ok, rounds, "every `true` reported its own success");
    assertEquals(r.orphansClaimed, rounds / 4 + (rounds % 4 ? 1 : 0));
    assertEquals(r.zombies, [], "no zombie child is left");
    assertEquals(r.children, [], "every orphan was reaped");
  },
});
