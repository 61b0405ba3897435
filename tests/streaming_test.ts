/**
 * Exec, Attach and PortForward end to end: the CRI RPCs of a real agent mint the URLs, and
 * clients speaking SPDY/3.1 (client-go's way, `streaming/testing/`) and WebSocket (Deno's
 * own) run the sessions against real containers in a real pod — busybox's sh, stty and
 * httpd through runc, the shims and the pod's network namespace. Bad input is refused, a
 * client that vanishes leaves no process behind, and nothing is left on the machine.
 */
import * as grpc from "@grpc/grpc-js";
import { createHash } from "node:crypto";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
} from "../testing/assert.ts";
import { ContainerState, NamespaceMode } from "../api/gen/api.ts";
import { SpdySession } from "../lib/spdy/mod.ts";
import { BufferedReader } from "../lib/io/mod.ts";
import {
  SpdyClient,
  spdyExec,
  SpdyPortForwarder,
  SpdyRemoteCommand,
  UpgradeRefused,
  webSocketTransport,
} from "../streaming/testing/spdy_client.ts";
import { decodeStatus } from "../streaming/testing/spdy_client.ts";
import { WsChannelClient } from "../streaming/testing/ws_client.ts";
import { CriClient, CriError } from "./harness/cri_client.ts";
import { e2eEnv } from "./harness/env.ts";
import {
  containerConfig,
  eventually,
  leftovers,
  NOTHING,
  podConfig,
  runContainer,
} from "./harness/pods.ts";
import { SHIM_LOG_FILE } from "../shim/protocol.ts";

const dec = new TextDecoder();
/** WebSocket channels of the remote-command protocols. */
const STDIN = 0, STDOUT = 1, STDERR = 2, ERROR = 3;
/**
 * Streaming URLs live this long here, so that the expiry can be seen without a long wait
 * (the kubelet's default is 60 s). Every step uses its URL at once; the longest gap is a
 * StopContainer between minting a URL and using it.
 */
const TOKEN_TTL_SECONDS = 5;
/** A session that has not ended by now is hung: fail instead of hanging the suite. */
const HANG_MS = 60_000;

/**
 * Fails with `what` if `p` has not settled within {@link HANG_MS} (a hang guard, not a timing);
 * `seen` adds what the client had received by then, so a hang says where it stopped.
 */
async function settle<T>(what: string, p: Promise<T>, seen?: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const got = seen ? `; ${seen()}` : "";
          reject(new Error(`${what}: still pending after 60 s${got}`));
        }, HANG_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Terminal output without its CSI sequences and the carriage returns of redraws. */
function withoutControls(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/[^\n]*\r(?!\n)/g, "");
}

/** The last `n` lines of a file, or why it cannot be read. */
function tailOf(path: string, n: number): string {
  try {
    return Deno.readTextFileSync(path).trimEnd().split("\n").slice(-n).join("\n");
  } catch (err) {
    return `(${path}: ${err})`;
  }
}

/**
 * The command lines of the live processes in the container (busybox `ps`). Zombies are left
 * out: an orphan is reparented to the container's PID 1 (here `sleep`, which reaps nothing),
 * as under any runtime; it holds no memory, files or CPU, only its pid until PID 1 exits.
 */
async function processes(client: CriClient, containerId: string): Promise<string[]> {
  const r = await client.runtime.execSync({
    containerId,
    cmd: ["ps", "-o", "stat,args"],
    timeout: 10,
  });
  assertEquals(r.exitCode, 0, dec.decode(r.stderr));
  return dec.decode(r.stdout).split("\n").slice(1)
    .map((l) => /^\s*(\S+)\s+(.*)$/.exec(l))
    .filter((m) => m !== null && !m[1]!.startsWith("Z") && m[2] !== "ps -o stat,args")
    .map((m) => m![2]!.trim());
}

/** Waits until no live process in the container has a command line containing `marker`. */
async function gone(client: CriClient, containerId: string, marker: string): Promise<void> {
  await eventually(`no "${marker}" left in the container`, async () => {
    const ps = await processes(client, containerId);
    return ps.some((l) => l.includes(marker)) ? undefined : true;
  });
}

/** An HTTP/1.0 GET of `/` (the server closes the connection after the response). */
const GET = "GET / HTTP/1.0\r\nHost: pod\r\n\r\n";

Deno.test("streaming: exec, attach and port-forward with real containers", async (t) => {
  await using env = await e2eEnv({
    config: `[stream]\ntoken_ttl_seconds = ${TOKEN_TTL_SECONDS}`,
  });
  const { images, logRoot } = env;
  // Replaced when the agent restarts (a gRPC connection must not outlive the agent:
  // Deno's node:http2 client can crash when its server goes away under it).
  let client = env.client;
  using _ = { [Symbol.dispose]: () => client.close() };
  const busybox = images.busybox.ref;
  await client.image.pullImage({ image: { image: busybox } });
  const pod = podConfig(logRoot, "stream");
  const podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
  const start = async (name: string, args: string[], extra = {}) => {
    const id = await runContainer(client, podId, containerConfig(name, busybox, args, extra), pod);
    return id;
  };
  const shell = await start("shell", ["sleep", "100000"]);
  // Echoes every line it reads; its stdin stays open across attaches (stdin_once false).
  const echoer = await start(
    "echoer",
    ["sh", "-c", 'while read l; do echo "got:$l"; done; echo stdin-closed'],
    { stdin: true, stdinOnce: false },
  );
  const web = await start("web", [
    "sh",
    "-c",
    "mkdir -p /www && echo hello-from-pod > /www/index.html && head -c 5000000 /dev/urandom > /www/big && exec httpd -f -p 8080 -h /www",
  ]);
  const execUrl = async (cmd: string[], o: { tty?: boolean; stdin?: boolean } = {}) =>
    (await client.runtime.exec({
      containerId: shell,
      cmd,
      tty: o.tty ?? false,
      stdin: o.stdin ?? false,
      stdout: true,
      stderr: !(o.tty ?? false),
    })).url;
  const attachUrl = async (containerId: string) =>
    (await client.runtime.attach({
      containerId,
      stdin: true,
      stdout: true,
      stderr: true,
    })).url;
  const forwardUrl = async (ports: number[]) =>
    (await client.runtime.portForward({ podSandboxId: podId, port: ports })).url;

  await t.step("Exec answers an absolute http:// URL on the streaming server", async () => {
    const url = await execUrl(["true"]);
    assertMatch(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
  });

  await t.step("exec over SPDY: `sh -c 'exit 3'` reports 3, with both streams", async () => {
    const r = await settle(
      "exec",
      spdyExec(await execUrl(["sh", "-c", "echo out; echo err >&2; exit 3"]), {
        stdout: true,
        stderr: true,
      }),
    );
    assertEquals(r.protocol, "v5.channel.k8s.io");
    assertEquals([r.stdout, r.stderr], ["out\n", "err\n"]);
    assertEquals(r.status.exitCode, 3, r.status.raw);
    assertEquals(r.status.json?.reason, "NonZeroExitCode");
    const ok = await settle("exec", spdyExec(await execUrl(["true"])));
    assertEquals(ok.status.exitCode, 0, ok.status.raw);
  });

  await t.step("exec over SPDY with an older client (v4, v2) reports the exit code", async () => {
    const v4 = await settle(
      "exec",
      spdyExec(await execUrl(["sh", "-c", "exit 3"]), { protocols: ["v4.channel.k8s.io"] }),
    );
    assertEquals([v4.protocol, v4.status.exitCode], ["v4.channel.k8s.io", 3]);
    const v2 = await settle(
      "exec",
      spdyExec(await execUrl(["sh", "-c", "exit 3"]), { protocols: ["v2.channel.k8s.io"] }),
    );
    assertEquals(v2.protocol, "v2.channel.k8s.io");
    assertStringIncludes(v2.status.raw, "exit code 3");
  });

  await t.step("exec over WebSocket v5: `sh -c 'exit 3'` reports 3", async () => {
    const ws = await WsChannelClient.open(
      await execUrl(["sh", "-c", "echo out; echo err >&2; exit 3"]),
      ["v5.channel.k8s.io"],
    );
    try {
      const closed = await settle("the WebSocket to close", ws.closed);
      assertEquals(ws.protocol, "v5.channel.k8s.io");
      assertEquals(closed.code, 1000);
      assertEquals(ws.channel(STDOUT).text, "out\n");
      assertEquals(ws.channel(STDERR).text, "err\n");
      assertEquals(decodeStatus(ws.channel(ERROR).text).exitCode, 3);
    } finally {
      ws.close();
    }
  });

  await t.step("exec over WebSocket v5: stdin, and the CLOSE signal ends it", async () => {
    const ws = await WsChannelClient.open(
      await execUrl(["sh", "-c", "cat; echo eof-seen"], { stdin: true }),
      ["v5.channel.k8s.io"],
    );
    try {
      ws.send(STDIN, "typed over websocket\n");
      await settle("the echo", ws.channel(STDOUT).waitFor("typed over websocket\n", ws.closed));
      ws.closeChannel(STDIN);
      await settle("the WebSocket to close", ws.closed);
      assertEquals(ws.channel(STDOUT).text, "typed over websocket\neof-seen\n");
      assertEquals(decodeStatus(ws.channel(ERROR).text).exitCode, 0);
    } finally {
      ws.close();
    }
  });

  await t.step("exec moves megabytes both ways (flow control, backpressure)", async () => {
    const size = 8 << 20;
    const out = await settle(
      "exec",
      spdyExec(await execUrl(["head", "-c", String(size), "/dev/zero"]), { stdout: true }),
    );
    assertEquals([out.stdout.length, out.status.exitCode], [size, 0]);
    const input = "x".repeat(size);
    const counted = await settle(
      "exec",
      spdyExec(await execUrl(["wc", "-c"], { stdin: true }), { input }),
    );
    assertEquals([counted.stdout.trim(), counted.status.exitCode], [String(size), 0]);

    const ws = await WsChannelClient.open(
      await execUrl(["sh", "-c", `head -c ${size} /dev/zero; wc -c`], { stdin: true }),
      ["v5.channel.k8s.io"],
    );
    try {
      for (let off = 0; off < size; off += 1 << 20) {
        ws.send(STDIN, input.slice(off, off + (1 << 20)));
      }
      ws.closeChannel(STDIN);
      await settle("the WebSocket to close", ws.closed);
      const outBytes = ws.channel(STDOUT).bytes;
      assertEquals(outBytes.byteLength, size + String(size).length + 1);
      assertEquals(dec.decode(outBytes.subarray(size)), `${size}\n`);
      assertEquals(decodeStatus(ws.channel(ERROR).text).exitCode, 0);
    } finally {
      ws.close();
    }
  });

  await t.step(
    "exec is byte-exact both ways with binary data (kubectl cp streams tar this way)",
    async () => {
      const md5Of = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
      // Out: random bytes, as `kubectl cp pod:dir .` reads its tar from stdout.
      const prep = await client.runtime.execSync({
        containerId: shell,
        cmd: [
          "sh",
          "-c",
          "mkdir -p /tmp/cp && head -c 3000000 /dev/urandom > /tmp/cp/r && md5sum /tmp/cp/r",
        ],
        timeout: 10,
      });
      const want = dec.decode(prep.stdout).split(" ")[0]!;
      const out = await SpdyRemoteCommand.open(await execUrl(["cat", "/tmp/cp/r"]), {
        stdout: true,
        stderr: true,
      });
      try {
        const r = await settle("cat", out.result());
        assertEquals(r.status.exitCode, 0, r.status.raw);
        assertEquals([out.stdout!.bytes.byteLength, md5Of(out.stdout!.bytes)], [3_000_000, want]);
      } finally {
        out.close();
      }
      // In: random bytes on stdin, as `kubectl cp . pod:dir` sends its tar.
      const bytes = crypto.getRandomValues(new Uint8Array(60_000));
      const input = new Uint8Array(bytes.byteLength * 50);
      for (let i = 0; i < 50; i++) input.set(bytes, i * bytes.byteLength);
      const sum = await SpdyRemoteCommand.open(await execUrl(["md5sum"], { stdin: true }), {
        stdin: true,
        stdout: true,
        stderr: true,
      });
      try {
        await sum.write(input);
        await sum.closeStdin();
        const r = await settle("md5sum", sum.result());
        assertEquals(r.stdout.split(" ")[0], md5Of(input));
      } finally {
        sum.close();
      }
    },
  );

  await t.step("interactive exec with a tty: echoes what is typed, follows a resize", async () => {
    const cmd = await SpdyRemoteCommand.open(await execUrl(["sh"], { tty: true, stdin: true }), {
      stdin: true,
      tty: true,
    });
    // Should a step hang, say what the client, the agent and the shim had seen by then.
    const seen = () =>
      [
        `received so far: ${JSON.stringify(cmd.stdout?.text ?? "")}`,
        `agent log:\n${env.agent.tail(20)}`,
        `shim log:\n${tailOf(`${env.agent.state}/shims/${shell}/${SHIM_LOG_FILE}`, 30)}`,
      ].join("\n");
    try {
      assertEquals(cmd.stderr, undefined);
      // client-go sends the terminal's size first, then whatever is typed.
      await cmd.resize(80, 24);
      await cmd.write("echo typed-$((6*7))\n");
      // The shell prints the result; before it, the terminal echoed the line as typed. The
      // resize's SIGWINCH can reach busybox's line editor mid-line, which then redraws the
      // line (`ec\r/ # ec\x1b[Jho …`): the echo is compared without the redraw's controls.
      await settle("its output", cmd.stdout!.waitFor(/\r\ntyped-42\r\n/), seen);
      assertStringIncludes(withoutControls(cmd.stdout!.text), "echo typed-$((6*7))\r\n");
      await cmd.write("stty size\n");
      await settle("the first size", cmd.stdout!.waitFor(/\r\n24 80\r\n/), seen);
      await cmd.resize(123, 45);
      await cmd.write("stty size; tty\n");
      await settle("the new size", cmd.stdout!.waitFor(/\r\n45 123\r\n/), seen);
      await settle("the pty", cmd.stdout!.waitFor(/\r\n\/dev\/pts\/\d+\r\n/), seen);
      await cmd.write("exit 5\n");
      const r = await settle("the exit", cmd.result(), seen);
      assertEquals(r.status.exitCode, 5, r.status.raw);
    } finally {
      cmd.close();
    }
  });

  await t.step("attach: two attachers see output written after they attached", async () => {
    const a = await SpdyRemoteCommand.open(await attachUrl(echoer), {
      stdin: true,
      stdout: true,
      stderr: true,
    });
    let b: WsChannelClient | undefined;
    try {
      await a.write("from-a\n");
      await settle("a's line", a.stdout!.waitFor("got:from-a\n"));
      b = await WsChannelClient.open(await attachUrl(echoer), ["v5.channel.k8s.io"]);
      b.send(STDIN, "from-b\n");
      await settle("b's line on b", b.channel(STDOUT).waitFor("got:from-b\n", b.closed));
      await settle("b's line on a", a.stdout!.waitFor("got:from-b\n"));
      await a.write("to-both\n");
      await settle("the line on a", a.stdout!.waitFor("got:to-both\n"));
      await settle("the line on b", b.channel(STDOUT).waitFor("got:to-both\n", b.closed));
      // Attach is live: what was written before b attached is not replayed to it.
      assertEquals(b.channel(STDOUT).text, "got:from-b\ngot:to-both\n");
      assertEquals(a.stdout!.text, "got:from-a\ngot:from-b\ngot:to-both\n");
    } finally {
      a.close();
      b?.close();
    }
    if (b) await settle("b to close", b.closed);
  });

  await t.step("detaching leaves the container running with its stdin open", async () => {
    const st = await client.runtime.containerStatus({ containerId: echoer });
    assertEquals(st.status?.state, ContainerState.CONTAINER_RUNNING);
    const c = await SpdyRemoteCommand.open(await attachUrl(echoer), {
      stdin: true,
      stdout: true,
      stderr: true,
    });
    try {
      await c.write("again\n");
      await settle("the line", c.stdout!.waitFor("got:again\n"));
      assert(!c.stdout!.text.includes("stdin-closed"), c.stdout!.text);
    } finally {
      c.close();
    }
    const after = await client.runtime.containerStatus({ containerId: echoer });
    assertEquals(after.status?.state, ContainerState.CONTAINER_RUNNING);
  });

  await t.step(
    "attach: a client ending its stdin closes the container's only with stdin_once",
    async () => {
      // stdin_once false (echoer): the end of one attacher's input is not the container's.
      const a = await SpdyRemoteCommand.open(await attachUrl(echoer), {
        stdin: true,
        stdout: true,
        stderr: true,
      });
      try {
        await a.write("half\n");
        await a.closeStdin();
        await settle("the line", a.stdout!.waitFor("got:half\n"));
      } finally {
        a.close();
      }
      const b = await SpdyRemoteCommand.open(await attachUrl(echoer), {
        stdin: true,
        stdout: true,
        stderr: true,
      });
      try {
        await b.write("still-open\n");
        await settle("the line", b.stdout!.waitFor("got:still-open\n"));
        assert(!b.stdout!.text.includes("stdin-closed"), b.stdout!.text);
      } finally {
        b.close();
      }

      // stdin_once true: the first attacher's end of input is the container's end of input.
      const once = await start(
        "once",
        ["sh", "-c", 'while read l; do echo "got:$l"; done; echo stdin-closed; exec sleep 100000'],
        { stdin: true, stdinOnce: true },
      );
      const c = await SpdyRemoteCommand.open(await attachUrl(once), {
        stdin: true,
        stdout: true,
        stderr: true,
      });
      try {
        await c.write("only\n");
        await c.closeStdin();
        await settle("the end of input", c.stdout!.waitFor("got:only\nstdin-closed\n"));
      } finally {
        c.close();
      }
    },
  );

  await t.step("attach with a tty: typing and a resize reach the container's shell", async () => {
    const term = await start("term", ["sh"], { tty: true, stdin: true });
    const url = async () =>
      (await client.runtime.attach({ containerId: term, tty: true, stdin: true, stdout: true }))
        .url;
    const a = await SpdyRemoteCommand.open(await url(), { stdin: true, tty: true });
    try {
      assertEquals(a.stderr, undefined);
      await a.resize(100, 30);
      await a.write("stty size\n");
      await settle("the size", a.stdout!.waitFor(/\r\n30 100\r\n/));
    } finally {
      a.close();
    }
    // Detaching sends no ^D: the shell is still there, and still has the size.
    const b = await SpdyRemoteCommand.open(await url(), { stdin: true, tty: true });
    try {
      await b.write("stty size; echo marker-$((40+2))\n");
      await settle("the size", b.stdout!.waitFor(/\r\n30 100\r\nmarker-42\r\n/));
    } finally {
      b.close();
    }
    const st = await client.runtime.containerStatus({ containerId: term });
    assertEquals(st.status?.state, ContainerState.CONTAINER_RUNNING);
  });

  await t.step("attach to a container that exits: the session ends with success", async () => {
    const quitter = await start(
      "quitter",
      ["sh", "-c", 'read l; echo "bye:$l"; exit 4'],
      { stdin: true, stdinOnce: true },
    );
    const a = await SpdyRemoteCommand.open(await attachUrl(quitter), {
      stdin: true,
      stdout: true,
      stderr: true,
    });
    try {
      await a.write("now\n");
      const r = await settle("the end of the attach", a.result());
      assertEquals(r.stdout, "bye:now\n");
      assertEquals(r.status.exitCode, 0, r.status.raw);
    } finally {
      a.close();
    }
    const st = await eventually("the container to be exited", async () => {
      const s = await client.runtime.containerStatus({ containerId: quitter });
      return s.status?.state === ContainerState.CONTAINER_EXITED ? s.status : undefined;
    });
    assertEquals(st.exitCode, 4);
  });

  await eventually("httpd to serve the page", async () => {
    const r = await client.runtime.execSync({
      containerId: web,
      cmd: ["wget", "-q", "-O", "-", "http://127.0.0.1:8080/"],
      timeout: 5,
    });
    return dec.decode(r.stdout) === "hello-from-pod\n" ? true : undefined;
  });

  await t.step(
    "port-forward over SPDY fetches a page; a closed port errors that stream only",
    async () => {
      const { forwarder, client: spdy } = await SpdyPortForwarder.open(await forwardUrl([8080]));
      try {
        const page = await forwarder.connect(8080);
        await page.write(GET);
        await page.end();
        const body = await settle("the page", page.output.all());
        assertMatch(body, /^HTTP\/1\.[01] 200 OK\r\n/);
        assertStringIncludes(body, "\r\n\r\nhello-from-pod\n");
        assertEquals(await settle("the error stream", page.error), "");

        // Nobody listens on 8081: that connection fails, with the port and pod named.
        const refused = await forwarder.connect(8081);
        const err = await settle("the error", refused.error);
        assertStringIncludes(err, `error forwarding port 8081 to pod ${podId}`);
        assertMatch(err, /refused/i);
        assertEquals(await settle("the data stream", refused.output.all()), "");

        // The session survives it: another connection on it still works.
        const again = await forwarder.connect(8080);
        await again.write(GET);
        await again.end();
        assertStringIncludes(await settle("the page", again.output.all()), "hello-from-pod\n");
      } finally {
        spdy.close();
      }
    },
  );

  await t.step("port-forward carries a 5 MB file over SPDY and over WebSocket", async () => {
    const want = await client.runtime.execSync({
      containerId: web,
      cmd: ["md5sum", "/www/big"],
      timeout: 10,
    });
    const md5 = dec.decode(want.stdout).split(" ")[0]!;
    const bodyOf = (raw: Uint8Array) => {
      const i = new TextDecoder("latin1").decode(raw.subarray(0, 4096)).indexOf("\r\n\r\n");
      assert(i > 0, `no end of the response head in ${raw.byteLength} bytes`);
      return raw.subarray(i + 4);
    };
    const md5Of = (data: Uint8Array) => createHash("md5").update(data).digest("hex");

    const { forwarder, client: spdy } = await SpdyPortForwarder.open(await forwardUrl([8080]));
    try {
      const conn = await forwarder.connect(8080);
      await conn.write("GET /big HTTP/1.0\r\n\r\n");
      await conn.end();
      await settle("the file", conn.output.all());
      const body = bodyOf(conn.output.bytes);
      assertEquals([body.byteLength, md5Of(body)], [5_000_000, md5]);
      assertEquals(await settle("the error stream", conn.error), "");
    } finally {
      spdy.close();
    }

    const ws = await WsChannelClient.open(await forwardUrl([8080]), ["v4.channel.k8s.io"]);
    try {
      ws.send(0, "GET /big HTTP/1.0\r\n\r\n");
      // Once the pod's side is done (HTTP/1.0), the server closes the WebSocket.
      await settle("the WebSocket to close", ws.closed);
      const body = bodyOf(ws.channel(0).bytes.subarray(2));
      assertEquals([body.byteLength, md5Of(body)], [5_000_000, md5]);
    } finally {
      ws.close();
    }
    await settle("the WebSocket to close", ws.closed);
  });

  await t.step("port-forward over WebSocket (v4.channel.k8s.io) fetches a page", async () => {
    const ws = await WsChannelClient.open(await forwardUrl([8080]), ["v4.channel.k8s.io"]);
    try {
      assertEquals(ws.protocol, "v4.channel.k8s.io");
      ws.send(0, GET);
      const text = await settle(
        "the page",
        ws.channel(0).waitFor("hello-from-pod\n", ws.closed),
      );
      // Each channel starts with the port, 2 bytes little-endian (8080 = 0x1f90).
      assertEquals([...ws.channel(0).bytes.subarray(0, 2)], [0x90, 0x1f]);
      assertEquals([...ws.channel(1).bytes.subarray(0, 2)], [0x90, 0x1f]);
      assertMatch(text.slice(2), /^HTTP\/1\.[01] 200 OK\r\n/);
    } finally {
      ws.close();
    }
    await settle("the WebSocket to close", ws.closed);
  });

  await t.step(
    "port-forward over WebSocket to a closed port reports it on the error channel",
    async () => {
      const ws = await WsChannelClient.open(await forwardUrl([8081]), ["v4.channel.k8s.io"]);
      try {
        const err = await settle(
          "the error",
          ws.channel(1).waitFor(/error forwarding port 8081/, ws.closed),
        );
        assertStringIncludes(err, podId);
      } finally {
        ws.close();
      }
      await settle("the WebSocket to close", ws.closed);
    },
  );

  await t.step(
    "port-forward: SPDY tunnelled over WebSocket (kubectl ≥ 1.31) fetches a page",
    async () => {
      const transport = await webSocketTransport(
        await forwardUrl([]),
        "SPDY/3.1+portforward.k8s.io",
      );
      const session = new SpdySession(new BufferedReader(() => transport.read()), transport, {
        role: "client",
      });
      session.start();
      try {
        const page = await new SpdyPortForwarder(session).connect(8080);
        await page.write(GET);
        await page.end();
        assertStringIncludes(await settle("the page", page.output.all()), "hello-from-pod\n");
        assertEquals(await settle("the error stream", page.error), "");
      } finally {
        session.close();
      }
    },
  );

  await t.step("port-forward into a host-network pod reaches the node's loopback", async () => {
    // A free loopback port on the node (another process may take it before httpd: rare).
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const hostPod = podConfig(logRoot, "hostnet", {
      linux: {
        securityContext: {
          namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER },
        },
      },
    });
    const hostPodId = (await client.runtime.runPodSandbox({ config: hostPod })).podSandboxId;
    try {
      const ctr = await runContainer(
        client,
        hostPodId,
        containerConfig("web", busybox, [
          "sh",
          "-c",
          `mkdir -p /www && echo hello-from-host-pod > /www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /www`,
        ]),
        hostPod,
      );
      await eventually("httpd to listen", async () => {
        const r = await client.runtime.execSync({
          containerId: ctr,
          cmd: ["wget", "-q", "-O", "-", `http://127.0.0.1:${port}/`],
          timeout: 5,
        });
        return r.exitCode === 0 ? true : undefined;
      });
      const url = (await client.runtime.portForward({ podSandboxId: hostPodId, port: [port] }))
        .url;
      const { forwarder, client: spdy } = await SpdyPortForwarder.open(url);
      try {
        const page = await forwarder.connect(port);
        await page.write(GET);
        await page.end();
        assertStringIncludes(await settle("the page", page.output.all()), "hello-from-host-pod\n");
        assertEquals(await settle("the error stream", page.error), "");
      } finally {
        spdy.close();
      }
    } finally {
      await client.runtime.removePodSandbox({ podSandboxId: hostPodId });
    }
  });

  await t.step("20 execs and 20 forwarded connections at once", async () => {
    const execs = Promise.all(Array.from({ length: 20 }, async (_, i) => {
      const url = await execUrl(["sh", "-c", `echo out-${i}; echo err-${i} >&2; exit ${i}`]);
      return await settle("exec", spdyExec(url, { stdout: true, stderr: true }));
    }));
    // Awaited below; a failure before then must not be an unhandled rejection.
    execs.catch(() => {});
    const { forwarder, client: spdy } = await SpdyPortForwarder.open(await forwardUrl([8080]));
    try {
      const pages = Promise.all(Array.from({ length: 20 }, async () => {
        const c = await forwarder.connect(8080);
        await c.write(GET);
        await c.end();
        return await settle("the page", c.output.all());
      }));
      pages.catch(() => {});
      for (const [i, r] of (await execs).entries()) {
        assertEquals([r.stdout, r.stderr, r.status.exitCode], [`out-${i}\n`, `err-${i}\n`, i]);
      }
      for (const p of await pages) assertStringIncludes(p, "hello-from-pod\n");
    } finally {
      spdy.close();
    }
  });

  await t.step("a used URL is refused with 404", async () => {
    const url = await execUrl(["true"]);
    assertEquals((await settle("exec", spdyExec(url))).status.exitCode, 0);
    const err = await assertRejects(
      () => SpdyClient.dial(url, ["v5.channel.k8s.io"]),
      UpgradeRefused,
    );
    assertEquals(err.response.status, 404);
  });

  await t.step("an expired URL is refused with 404, and runs nothing", async () => {
    const url = await execUrl(["sh", "-c", "echo ran > /tmp/expired-ran"]);
    await new Promise((r) => setTimeout(r, TOKEN_TTL_SECONDS * 1000 + 500));
    const err = await assertRejects(
      () => SpdyClient.dial(url, ["v5.channel.k8s.io"]),
      UpgradeRefused,
    );
    assertEquals(err.response.status, 404);
    const r = await client.runtime.execSync({
      containerId: shell,
      cmd: ["test", "-e", "/tmp/expired-ran"],
      timeout: 10,
    });
    assertEquals(r.exitCode, 1);
  });

  await t.step("a client that vanishes mid-exec leaves no process behind", async () => {
    // A process that ignores its stdin closing: it is killed once the client is gone.
    const plain = await SpdyRemoteCommand.open(
      await execUrl(["sh", "-c", "echo ready; exec sleep 4321"], { stdin: true }),
      { stdin: true },
    );
    await settle("ready", plain.stdout!.waitFor("ready\n"));
    assert((await processes(client, shell)).includes("sleep 4321"));
    plain.close();

    // An interactive shell running a foreground job on a tty.
    const tty = await SpdyRemoteCommand.open(await execUrl(["sh"], { tty: true, stdin: true }), {
      stdin: true,
      tty: true,
    });
    await tty.write("echo job-started; sleep 4322\n");
    await settle("the job", tty.stdout!.waitFor(/\r\njob-started\r\n/));
    tty.close();

    // Over WebSocket.
    const ws = await WsChannelClient.open(
      await execUrl(["sh", "-c", "echo ready; exec sleep 4323"], { stdin: true }),
      ["v5.channel.k8s.io"],
    );
    await settle("ready", ws.channel(STDOUT).waitFor("ready\n", ws.closed));
    ws.close();
    await settle("the WebSocket to close", ws.closed);

    await gone(client, shell, "sleep 4321");
    await gone(client, shell, "sleep 4322");
    await gone(client, shell, "sleep 4323");
    assertEquals(await processes(client, shell), ["sleep 100000"]);
  });

  await t.step({
    name: "a background child of a vanished exec goes with it",
    // runc makes each exec'd process a session and group leader (measured: pid = pgid =
    // sid), but the shim kills only the pid, so `sleep &` under `sh -c` outlives it.
    // Enable once shim/server/_exec.ts kills the group (-pid).
    ignore: true,
    fn: async () => {
      const bg = await SpdyRemoteCommand.open(
        await execUrl(["sh", "-c", "sleep 4324 & echo ready; wait"], { stdin: true }),
        { stdin: true },
      );
      await settle("ready", bg.stdout!.waitFor("ready\n"));
      bg.close();
      await gone(client, shell, "sleep 4324");
    },
  });

  await t.step(
    "a container that stops ends its exec and attach sessions, and stale URLs fail",
    async () => {
      const victim = await start(
        "victim",
        ["sh", "-c", 'while read l; do echo "got:$l"; done'],
        { stdin: true },
      );
      const stale = (await client.runtime.exec({
        containerId: victim,
        cmd: ["true"],
        stdout: true,
        stderr: true,
      })).url;
      const exec = await SpdyRemoteCommand.open(
        (await client.runtime.exec({
          containerId: victim,
          cmd: ["sh", "-c", "echo ready; exec sleep 4330"],
          stdout: true,
          stderr: true,
        })).url,
        { stdout: true, stderr: true },
      );
      const attach = await SpdyRemoteCommand.open(await attachUrl(victim), {
        stdin: true,
        stdout: true,
        stderr: true,
      });
      try {
        await settle("ready", exec.stdout!.waitFor("ready\n"));
        await attach.write("attached\n");
        await settle("the attach", attach.stdout!.waitFor("got:attached\n"));
        await client.runtime.stopContainer({ containerId: victim, timeout: 0 });
        // The PID namespace goes with its init: the exec'd sleep is SIGKILLed.
        const e = await settle("the exec to end", exec.result());
        assertEquals(e.status.exitCode, 137, e.status.raw);
        const a = await settle("the attach to end", attach.result());
        assertEquals(a.status.exitCode, 0, a.status.raw);
      } finally {
        exec.close();
        attach.close();
      }
      const r = await settle("exec", spdyExec(stale));
      assertEquals(r.status.exitCode, undefined, r.status.raw);
      assertEquals(r.status.json?.status, "Failure");
      assertStringIncludes(r.status.raw, "not running");
    },
  );

  await t.step("an exec whose binary does not exist reports runc's error", async () => {
    const r = await settle("exec", spdyExec(await execUrl(["/no/such/binary"])));
    assertEquals(r.status.exitCode, undefined, r.status.raw);
    assertEquals(r.status.json?.status, "Failure");
    assertStringIncludes(r.status.raw, "/no/such/binary");
    assertStringIncludes(r.status.raw, "no such file or directory");
  });

  await t.step("the agent restarting ends its sessions and leaves no exec'd process", async () => {
    const exec = await SpdyRemoteCommand.open(
      await execUrl(["sh", "-c", "echo ready; exec sleep 4340"], { stdin: true }),
      { stdin: true },
    );
    const attach = await SpdyRemoteCommand.open(await attachUrl(echoer), {
      stdin: true,
      stdout: true,
      stderr: true,
    });
    try {
      await settle("ready", exec.stdout!.waitFor("ready\n"));
      await attach.write("before-restart\n");
      await settle("the line", attach.stdout!.waitFor("got:before-restart\n"));
      client.close();
      assertEquals((await env.agent.stop("SIGTERM")).code, 0);
      await settle("the exec to end", exec.result());
      await settle("the attach to end", attach.result());
    } finally {
      exec.close();
      attach.close();
    }
    await env.agent.launch();
    client = new CriClient(env.agent.socket);
    await gone(client, shell, "sleep 4340");
    const st = await client.runtime.containerStatus({ containerId: echoer });
    assertEquals(st.status?.state, ContainerState.CONTAINER_RUNNING);
    const again = await settle("exec", spdyExec(await execUrl(["echo", "after-restart"])));
    assertEquals(again.stdout, "after-restart\n");
  });

  await t.step("Exec and Attach into a stopped container are FAILED_PRECONDITION", async () => {
    const stopped = await start("stopped", ["sleep", "100000"]);
    await client.runtime.stopContainer({ containerId: stopped, timeout: 0 });
    for (
      const call of [
        () => client.runtime.exec({ containerId: stopped, cmd: ["true"], stdout: true }),
        () => client.runtime.attach({ containerId: stopped, stdout: true }),
      ]
    ) {
      const err = await assertRejects(call, CriError);
      assertEquals(err.code, grpc.status.FAILED_PRECONDITION, err.message);
      assertStringIncludes(err.details, stopped);
    }
    const unknown = await assertRejects(
      () => client.runtime.exec({ containerId: "f".repeat(64), cmd: ["true"], stdout: true }),
      CriError,
    );
    assertEquals(unknown.code, grpc.status.NOT_FOUND);
    const empty = await assertRejects(
      () => client.runtime.exec({ containerId: shell, cmd: [], stdout: true }),
      CriError,
    );
    assertEquals(empty.code, grpc.status.INVALID_ARGUMENT);
    const noStdio = await assertRejects(
      () => client.runtime.exec({ containerId: shell, cmd: ["true"] }),
      CriError,
    );
    assertEquals(noStdio.code, grpc.status.INVALID_ARGUMENT);
  });

  await t.step("after stopp, Exec and PortForward are FAILED_PRECONDITION", async () => {
    await client.runtime.stopPodSandbox({ podSandboxId: podId });
    const exec = await assertRejects(
      () => client.runtime.exec({ containerId: shell, cmd: ["true"], stdout: true }),
      CriError,
    );
    assertEquals(exec.code, grpc.status.FAILED_PRECONDITION);
    const pf = await assertRejects(() => forwardUrl([8080]), CriError);
    assertEquals(pf.code, grpc.status.FAILED_PRECONDITION);
  });

  await t.step("rmp leaves nothing behind", async () => {
    await client.runtime.removePodSandbox({ podSandboxId: podId });
    assertEquals(await leftovers(env.agent), NOTHING);
  });

  await t.step("the streaming server warned only about the runc failure", () => {
    const bad = env.agent.logs.filter((l) =>
      /^\S+ (WARN|ERROR) /.test(l) && l.includes("component=streaming")
    );
    assertEquals(bad.length, 1, bad.join("\n"));
    assertStringIncludes(bad[0]!, "/no/such/binary");
  });
});
