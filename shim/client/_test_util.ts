/**
 * Helpers shared by the shim client's integration tests.
 *
 * @module
 */
import { nullLogger } from "../../log/mod.ts";
import { containerSkipReason, RUNC, TestWorld } from "../../oci/_test_containers.ts";
import { ShimManager } from "./_manager.ts";
import type { ShimCreateOptions, ShimHandle } from "./_types.ts";

/** The real entry point: tests go through `main.ts shim …` as the agent does. */
export const ENTRY = new URL("../../main.ts", import.meta.url).pathname;

/** Why these tests cannot run here (undefined: they can). */
export const SKIP = containerSkipReason();

/** No test here needs nearly this long; past it, it is hung. */
const TEST_DEADLINE_MS = 60_000;

/** A world plus a manager over it. */
export interface Fixture {
  world: TestWorld;
  manager: ShimManager;
  /** The runtime settings for {@link ShimCreateOptions}. */
  runtime: ShimCreateOptions["runtime"];
}

/** Runs `fn` with a fresh world; everything is removed (and leaks fail the test) after. */
export async function withWorld(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const world = await TestWorld.create();
  const manager = new ShimManager({
    stateRoot: `${world.dir}/shims`,
    entry: ENTRY,
    logger: nullLogger,
    shimLogLevel: "debug",
  });
  const runtime = {
    binary: RUNC,
    root: world.runcRoot,
    systemdCgroup: false,
    callTimeoutMs: 30_000,
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // A hung test must still clean up (dispose kills its shims, which ends its waits).
    await Promise.race([
      fn({ world, manager, runtime }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`test did not finish within ${TEST_DEADLINE_MS / 1000} s`)),
          TEST_DEADLINE_MS,
        );
      }),
    ]);
  } catch (err) {
    // Clean up, but report the test's own failure rather than a leak it caused.
    await world.dispose().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
  await world.dispose();
}

/** Creates a container running `args`; deletes it when the returned disposable is disposed. */
export async function createContainer(
  f: Fixture,
  args: string[],
  opts: Partial<Omit<ShimCreateOptions, "id" | "bundle" | "runtime">> & {
    bundle?: Parameters<TestWorld["bundle"]>[1];
    log?: boolean;
  } = {},
): Promise<ShimHandle & AsyncDisposable> {
  const id = f.world.nextId();
  const tty = opts.tty ?? false;
  const bundle = await f.world.bundle(id, { args, tty, ...opts.bundle });
  const logPath = opts.log === false ? undefined : opts.logPath ?? f.world.logPath(id);
  const h = await f.manager.create({
    id,
    bundle,
    runtime: f.runtime,
    ...(logPath ? { logPath } : {}),
    tty,
    stdin: opts.stdin ?? false,
    stdinOnce: opts.stdinOnce ?? false,
  });
  return Object.assign(h, {
    [Symbol.asyncDispose]: async () => {
      await h.delete().catch(async () => {
        await f.manager.cleanup(id, f.runtime);
      });
    },
  });
}

/**
 * Runs `fn` against a started container running `sleep 1000` in a fresh world, then kills
 * the container and waits for its exit before it is deleted.
 */
export function withRunningContainer(
  fn: (c: ShimHandle, f: Fixture) => Promise<void>,
): Promise<void> {
  return withWorld(async (f) => {
    await using c = await createContainer(f, ["sleep", "1000"]);
    await c.start();
    await fn(c, f);
    await c.kill(9);
    await c.wait();
  });
}

/** Reads a stream to its end as text. */
export async function readAll(s: ReadableStream<Uint8Array> | undefined): Promise<string> {
  if (!s) return "";
  let out = "";
  const dec = new TextDecoder();
  for await (const c of s) out += dec.decode(c, { stream: true });
  return out + dec.decode();
}

/** Reads from `s` until the text read so far matches `re`; returns it. */
export async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  re: RegExp,
  sofar = { text: "" },
): Promise<string> {
  const dec = new TextDecoder();
  while (!re.test(sofar.text)) {
    const r = await reader.read();
    if (r.done) throw new Error(`stream ended before ${re}; got ${JSON.stringify(sofar.text)}`);
    sofar.text += dec.decode(r.value, { stream: true });
  }
  return sofar.text;
}

/** The CRI log lines of `path` without their timestamps: `stdout F text`. */
export async function logLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l !== "").map((l) => l.slice(l.indexOf(" ") + 1));
}
