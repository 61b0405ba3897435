import { nullLogger } from "../log/mod.ts";
import { assert, assertEquals } from "../testing/assert.ts";
import { type CommandChannels, ResizeQueue, runCommand, VANISH_GRACE_MS } from "./_command.ts";
import { Feed } from "./_feed.ts";
import type { CommandStatus } from "./_status.ts";
import type { StdioSession, TerminalSize } from "./_types.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Channels that record what the command runner does, in order. */
function fakeChannels(opts: { stdin?: boolean; resize?: boolean } = {}) {
  const events: string[] = [];
  const gone = Promise.withResolvers<void>();
  const stdin = opts.stdin ? new Feed() : undefined;
  const resize = opts.resize ? new Feed() : undefined;
  const out = (name: string) => ({
    write: (d: Uint8Array) => {
      events.push(`${name}:${dec.decode(d)}`);
      return Promise.resolve();
    },
    end: () => {
      events.push(`${name}:end`);
      return Promise.resolve();
    },
  });
  const ch: CommandChannels = {
    stdin: stdin?.readable,
    stdout: out("stdout"),
    stderr: out("stderr"),
    resize: resize?.readable,
    writeStatus: (s: CommandStatus) => {
      events.push(`status:${s.status}:${s.reason ?? ""}`);
      return Promise.resolve();
    },
    gone: gone.promise,
    finish: () => {
      events.push("finish");
      return Promise.resolve();
    },
    abort: () => events.push("abort"),
  };
  return { ch, events, stdin, resize, vanish: () => gone.resolve() };
}

/** A session whose process the test drives by hand. */
function fakeSession() {
  const out = new Feed();
  const exit = Promise.withResolvers<{ exitCode: number }>();
  const typed: string[] = [];
  const resizes: TerminalSize[] = [];
  let closed = 0;
  let stdinClosed = false;
  const session: StdioSession = {
    stdin: new WritableStream({
      write: (c) => void typed.push(dec.decode(c)),
      close: () => void (stdinClosed = true),
    }),
    stdout: out.readable,
    resize: (s) => {
      resizes.push(s);
      return Promise.resolve();
    },
    exit: exit.promise,
    close: () => {
      closed++;
      exit.reject(new Error("closed"));
    },
  };
  exit.promise.catch(() => {});
  return {
    session,
    out,
    typed,
    resizes,
    exit,
    get closed() {
      return closed;
    },
    get stdinClosed() {
      return stdinClosed;
    },
  };
}

Deno.test("runCommand(): output is flushed and ended before the status, then finish", async () => {
  const f = fakeChannels();
  const s = fakeSession();
  const done = runCommand(
    f.ch,
    { kind: "exec", cmd: ["x"] },
    () => Promise.resolve(s.session),
    nullLogger,
  );
  await s.out.push(enc.encode("a"));
  await s.out.push(enc.encode("b"));
  s.out.close();
  s.exit.resolve({ exitCode: 3 });
  await done;
  assertEquals(f.events, [
    "stdout:a",
    "stdout:b",
    "stdout:end",
    "stderr:end",
    "status:Failure:NonZeroExitCode",
    "finish",
  ]);
  assertEquals(s.closed, 1);
});

Deno.test("runCommand(): a backend that cannot start reports InternalError", async () => {
  const f = fakeChannels();
  await runCommand(
    f.ch,
    { kind: "attach" },
    () => Promise.reject(new Error("no such container")),
    nullLogger,
  );
  assertEquals(f.events, ["status:Failure:InternalError", "finish"]);
});

Deno.test("runCommand(): resizes are applied before the input typed after them", async () => {
  const f = fakeChannels({ stdin: true, resize: true });
  const s = fakeSession();
  const done = runCommand(
    f.ch,
    { kind: "exec", cmd: ["sh"] },
    () => Promise.resolve(s.session),
    nullLogger,
  );
  await f.resize!.push(enc.encode('{"Width":10,"Height":20}'));
  await f.stdin!.push(enc.encode("stty size\n"));
  while (s.typed.length === 0) await new Promise((r) => setTimeout(r, 1));
  assertEquals(s.resizes, [{ width: 10, height: 20 }]);
  f.stdin!.close();
  while (!s.stdinClosed) await new Promise((r) => setTimeout(r, 1));
  s.out.close();
  s.exit.resolve({ exitCode: 0 });
  await done;
  assertEquals(s.typed, ["stty size\n"]);
  assert(f.events.includes("status:Success:"));
});

Deno.test("runCommand(): a vanished client hangs up: stdin EOF, then the session is closed", async () => {
  const f = fakeChannels({ stdin: true });
  const s = fakeSession();
  const done = runCommand(
    f.ch,
    { kind: "exec", cmd: ["cat"] },
    () => Promise.resolve(s.session),
    nullLogger,
  );
  await new Promise((r) => setTimeout(r, 1));
  f.vanish();
  // A process that ends at EOF lets the session close without waiting out the grace.
  while (!s.stdinClosed) await new Promise((r) => setTimeout(r, 1));
  s.out.close();
  s.exit.resolve({ exitCode: 0 });
  await done;
  assertEquals(s.closed, 1);
  assert(!f.events.some((e) => e.startsWith("status")), "nobody is left to tell");
});

Deno.test("runCommand(): on shutdown a vanished client's process gets no grace", async () => {
  const f = fakeChannels({ stdin: true });
  const s = fakeSession();
  const shutdown = new AbortController();
  const done = runCommand(
    f.ch,
    { kind: "exec", cmd: ["sleep", "1000"] },
    () => Promise.resolve(s.session),
    nullLogger,
    { shutdown: shutdown.signal },
  );
  await new Promise((r) => setTimeout(r, 1));
  shutdown.abort();
  f.vanish();
  // The process ignores EOF and never exits: without the shutdown the runner would wait
  // out the whole grace before closing it.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const first = await Promise.race([
    done.then(() => "closed"),
    new Promise((r) => (timer = setTimeout(() => r("still in the grace"), VANISH_GRACE_MS / 2))),
  ]);
  clearTimeout(timer);
  await done;
  assertEquals(first, "closed");
  assert(s.stdinClosed, "stdin got EOF first");
  assertEquals(s.closed, 1);
});

Deno.test("runCommand(): a client that leaves before the session starts still gets it closed", async () => {
  const f = fakeChannels();
  const s = fakeSession();
  const started = Promise.withResolvers<StdioSession>();
  const done = runCommand(f.ch, { kind: "attach" }, () => started.promise, nullLogger);
  f.vanish();
  await done;
  started.resolve(s.session);
  await new Promise((r) => setTimeout(r, 1));
  assertEquals(s.closed, 1);
});

/** A session whose resizes wait until the test lets them through, one at a time. */
function slowResizer() {
  const applied: TerminalSize[] = [];
  const waiting: Array<() => void> = [];
  return {
    applied,
    waiting,
    session: {
      resize: (size: TerminalSize) =>
        new Promise<void>((resolve) =>
          waiting.push(() => {
            applied.push(size);
            resolve();
          })
        ),
    },
  };
}

Deno.test("ResizeQueue: while one size is applied, only the latest of a flood waits", async () => {
  const r = slowResizer();
  const q = new ResizeQueue(r.session, nullLogger);
  for (let i = 1; i <= 10_000; i++) q.push({ width: i, height: i });
  await new Promise((res) => setTimeout(res, 0));
  assertEquals(r.waiting.length, 1, "one resize in progress, nothing queued behind it");
  r.waiting.shift()!();
  await new Promise((res) => setTimeout(res, 0));
  r.waiting.shift()!();
  await q.settled;
  assertEquals(r.applied, [{ width: 1, height: 1 }, { width: 10_000, height: 10_000 }]);
  assertEquals(r.waiting.length, 0);
});

Deno.test("ResizeQueue: a resize stream flooded faster than the shim applies costs one slot", async () => {
  const r = slowResizer();
  const q = new ResizeQueue(r.session, nullLogger);
  const feed = new Feed();
  const pumping = q.pump(feed.readable);
  const sizes = Array.from({ length: 5_000 }, (_, i) => `{"Width":${i},"Height":1}`).join("");
  await feed.push(enc.encode(sizes));
  await feed.push(enc.encode('{"Width":80,"Height":24}'));
  feed.close();
  await pumping;
  while (r.waiting.length > 0) {
    r.waiting.shift()!();
    await new Promise((res) => setTimeout(res, 0));
  }
  await q.settled;
  assertEquals(r.applied, [{ width: 0, height: 1 }, { width: 80, height: 24 }]);
});
