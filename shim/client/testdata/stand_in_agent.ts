// deno-lint-ignore-file no-console
/**
 * A stand-in for the agent in the recovery tests: creates and starts one container
 * through a ShimManager, prints the pids as JSON, then idles until killed.
 *
 *   stand_in_agent.ts <stateRoot> <entry> <runcRoot> <bundle> <id>
 *
 * @module
 */
import { nullLogger } from "../../../log/mod.ts";
import { ShimManager } from "../mod.ts";

const [stateRoot, entry, runcRoot, bundle, id] = Deno.args;
const manager = new ShimManager({ stateRoot: stateRoot!, entry: entry!, logger: nullLogger });
const h = await manager.create({
  id: id!,
  bundle: bundle!,
  runtime: {
    binary: "/usr/sbin/runc",
    root: runcRoot!,
    systemdCgroup: false,
    callTimeoutMs: 30_000,
  },
  tty: false,
  stdin: false,
  stdinOnce: false,
});
await h.start();
console.log(JSON.stringify({ shimPid: h.shimPid, initPid: h.initPid }));
setInterval(() => {}, 1 << 30);
