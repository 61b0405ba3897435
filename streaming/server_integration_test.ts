/**
 * The server's front door: URLs, tokens, upgrade negotiation, bad requests, timeouts and
 * shutdown, over real sockets.
 */
import { SauropodError } from "../errors/mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../testing/assert.ts";
import { startHarness } from "./testing/harness.ts";
import {
  httpRequest,
  SpdyClient,
  spdyExec,
  SpdyRemoteCommand,
  UpgradeRefused,
} from "./testing/spdy_client.ts";

const execReq = {
  containerId: "c1",
  cmd: ["true"],
  tty: false,
  stdin: false,
  stdout: true,
  stderr: true,
};

const spdyHeaders = (protocols: string[]): [string, string][] => [
  ["Connection", "Upgrade"],
  ["Upgrade", "SPDY/3.1"],
  ...protocols.map((p): [string, string] => ["X-Stream-Protocol-Version", p]),
];

Deno.test("URLs are absolute http://127.0.0.1:PORT/<endpoint>/<43-character token>", async () => {
  await using h = await startHarness();
  assertMatch(h.server.baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
  assertMatch(h.server.execUrl(execReq), /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]{43}$/);
  assertMatch(
    h.server.attachUrl({ ...execReq }),
    /^http:\/\/127\.0\.0\.1:\d+\/attach\/[A-Za-z0-9_-]{43}$/,
  );
  assertMatch(
    h.server.portForwardUrl({ podSandboxId: "p", ports: [80] }),
    /\/portforward\/[A-Za-z0-9_-]{43}$/,
  );
  assert(h.server.execUrl(execReq) !== h.server.execUrl(execReq), "every URL is new");
});

Deno.test("impossible requests are refused with invalid-argument naming the field", async () => {
  await using h = await startHarness();
  const bad = (f: () => unknown, text: string) => {
    const e = assertThrows(f, SauropodError, text);
    assertEquals(e.kind, "invalid-argument");
  };
  bad(() => h.server.execUrl({ ...execReq, tty: true, stderr: true }), "tty and stderr");
  bad(
    () => h.server.execUrl({ ...execReq, stdin: false, stdout: false, stderr: false }),
    "one of stdin, stdout, or stderr",
  );
  bad(() => h.server.execUrl({ ...execReq, cmd: [] }), "cmd");
  bad(() => h.server.attachUrl({ ...execReq, containerId: "" }), "container_id");
  bad(() => h.server.portForwardUrl({ podSandboxId: "", ports: [] }), "pod_sandbox_id");
  bad(() => h.server.portForwardUrl({ podSandboxId: "p", ports: [70000] }), "70000");
});

Deno.test("a token works once: the second use is 404", async () => {
  await using h = await startHarness();
  const url = h.server.execUrl(execReq);
  assertEquals((await spdyExec(url)).status.exitCode, 0);
  const err = await assertRejects(
    () => SpdyClient.dial(url, ["v4.channel.k8s.io"]),
    UpgradeRefused,
  );
  assertEquals(err.response.status, 404);
  assertStringIncludes(err.response.body, "already used");
});

Deno.test("unknown, forged and expired tokens are 404", async () => {
  await using h = await startHarness({ tokenTtlMs: 1 });
  const expired = h.server.execUrl(execReq);
  await new Promise((r) => setTimeout(r, 20));
  for (
    const url of [
      expired,
      `${h.server.baseUrl}/exec/${"A".repeat(43)}`,
      `${h.server.baseUrl}/exec/not a token`,
    ]
  ) {
    const { response } = await httpRequest(url, { headers: spdyHeaders(["v4.channel.k8s.io"]) });
    assertEquals(response.status, 404, url);
  }
});

Deno.test("a token used on the wrong endpoint is 404 and spent", async () => {
  await using h = await startHarness();
  const url = h.server.execUrl(execReq);
  const wrong = url.replace("/exec/", "/attach/");
  const { response } = await httpRequest(wrong, { headers: spdyHeaders(["v4.channel.k8s.io"]) });
  assertEquals(response.status, 404);
  assertStringIncludes(response.body, "is for exec, not attach");
  const again = await httpRequest(url, { headers: spdyHeaders(["v4.channel.k8s.io"]) });
  assertEquals(again.response.status, 404);
});

Deno.test("unknown paths are 404, other methods 405, plain requests 400", async () => {
  await using h = await startHarness();
  assertEquals((await httpRequest(`${h.server.baseUrl}/healthz`)).response.status, 404);
  const put = await httpRequest(h.server.execUrl(execReq), { method: "PUT" });
  assertEquals(put.response.status, 405);
  const plain = await httpRequest(h.server.execUrl(execReq), { method: "GET" });
  assertEquals(plain.response.status, 400);
  assertStringIncludes(plain.response.body, "missing upgrade headers");
});

Deno.test("SPDY protocol negotiation: none offered is 400, none shared is 403 with the list", async () => {
  await using h = await startHarness();
  const none = await httpRequest(h.server.execUrl(execReq), { headers: spdyHeaders([]) });
  assertEquals(none.response.status, 400);
  assertStringIncludes(none.response.body, "X-Stream-Protocol-Version is required");
  const other = await httpRequest(h.server.execUrl(execReq), {
    headers: spdyHeaders(["v9.channel.k8s.io"]),
  });
  assertEquals(other.response.status, 403);
  assertEquals(
    other.response.headers.get("x-accepted-stream-protocol-versions"),
    "v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io",
  );
  const pf = await httpRequest(h.server.portForwardUrl({ podSandboxId: "p", ports: [] }), {
    headers: spdyHeaders(["v4.channel.k8s.io"]),
  });
  assertEquals(pf.response.status, 403);
});

Deno.test("malformed requests get 400 and an oversized head 431", async () => {
  await using h = await startHarness();
  const u = new URL(h.server.baseUrl);
  for (
    const [raw, status] of [
      ["NONSENSE\r\n\r\n", 400],
      ["GET /exec/x HTTP/1.1\r\nbad header\r\n\r\n", 400],
      [`GET /exec/x HTTP/1.1\r\nX: ${"y".repeat(20_000)}\r\n\r\n`, 431],
    ] as const
  ) {
    const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
    try {
      await conn.write(new TextEncoder().encode(raw));
      const buf = new Uint8Array(4096);
      const n = await conn.read(buf);
      assertMatch(
        new TextDecoder().decode(buf.subarray(0, n ?? 0)),
        new RegExp(`^HTTP/1.1 ${status} `),
      );
    } finally {
      conn.close();
    }
  }
});

Deno.test("a SPDY client that never opens its streams is dropped after the creation timeout", async () => {
  await using h = await startHarness({ streamCreationTimeoutMs: 100 });
  const client = await SpdyClient.dial(h.server.execUrl(execReq), ["v4.channel.k8s.io"]);
  try {
    const error = await client.session.openStream({ streamType: "error" });
    let text = "";
    for await (const c of error.readable) text += new TextDecoder().decode(c);
    assertStringIncludes(text, "timed out waiting for client to create streams");
    await client.session.done;
    assertEquals(h.backend.execCount, 0);
  } finally {
    client.close();
  }
});

Deno.test("an idle session is closed after the idle timeout", async () => {
  await using h = await startHarness({ idleTimeoutMs: 150 });
  const c = h.backend.startContainer("quiet", ["sleep", "600"]);
  const a = await SpdyRemoteCommand.open(
    h.server.attachUrl({
      containerId: "quiet",
      tty: false,
      stdin: false,
      stdout: true,
      stderr: true,
    }),
    { stderr: true },
  );
  try {
    await a.client.session.done;
    assertMatch(h.logs.join("\n"), /closing idle SPDY connection/);
    while (c.attachers > 0) await new Promise((r) => setTimeout(r, 10));
    assert(c.running, "an idle attach detaches; the container runs on");
  } finally {
    a.close();
  }
});

Deno.test("close() ends every session and stops listening", async () => {
  const h = await startHarness();
  try {
    h.backend.startContainer("quiet", ["sleep", "600"]);
    const a = await SpdyRemoteCommand.open(
      h.server.attachUrl({
        containerId: "quiet",
        tty: false,
        stdin: false,
        stdout: true,
        stderr: true,
      }),
      { stderr: true },
    );
    const url = h.server.execUrl(execReq);
    await h.server.close();
    await a.client.session.done;
    a.close();
    await assertRejects(() => httpRequest(url), Deno.errors.ConnectionRefused);
  } finally {
    await h[Symbol.asyncDispose]();
  }
});

Deno.test("too many outstanding tokens is resource-exhausted", async () => {
  await using h = await startHarness({ maxTokens: 2 });
  h.server.execUrl(execReq);
  h.server.execUrl(execReq);
  const e = assertThrows(() => h.server.execUrl(execReq), SauropodError, "in flight");
  assertEquals(e.kind, "resource-exhausted");
});

// ---- limits: connection caps and the head timeout (security review L6) ----

/** Polls `cond` (the server counts a connection once it accepts it). */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Connects and sends nothing. */
function idle(baseUrl: string): Promise<Deno.TcpConn> {
  const u = new URL(baseUrl);
  return Deno.connect({ hostname: u.hostname, port: Number(u.port) });
}

/** Connects, sends a request head for a made-up token, and reads the whole answer. */
async function refusedWith(baseUrl: string): Promise<{ status: number; text: string }> {
  const conn = await idle(baseUrl);
  try {
    await conn.write(new TextEncoder().encode(`GET /exec/${"A".repeat(43)} HTTP/1.1\r\n\r\n`));
    let text = "";
    const buf = new Uint8Array(4096);
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return { status: Number(text.split(" ")[1]), text };
  } finally {
    conn.close();
  }
}

const refusalLines = (logs: string[]) =>
  logs.filter((l) => l.includes("refusing streaming connections"));

Deno.test("connections beyond the total cap get 503, logged once, and a freed slot serves again", async () => {
  await using h = await startHarness({
    maxConnections: 3,
    maxConnectionsPerSource: 100,
    maxUnauthenticatedConnections: 100,
  });
  const held = await Promise.all([1, 2, 3].map(() => idle(h.server.baseUrl)));
  try {
    await until(() => h.server.connections.total === 3, "3 connections");
    for (let i = 0; i < 20; i++) {
      const r = await refusedWith(h.server.baseUrl);
      assertEquals(r.status, 503, r.text);
      assertStringIncludes(r.text, "too many streaming connections (limit 3)");
      assertStringIncludes(r.text, "Retry-After: 1");
    }
    assertEquals(refusalLines(h.logs).length, 1, "a flood is logged once");
    held.pop()!.close();
    await until(() => h.server.connections.total === 2, "a freed slot");
    assertEquals((await spdyExec(h.server.execUrl(execReq))).status.exitCode, 0);
  } finally {
    for (const c of held) c.close();
  }
});

Deno.test("connections beyond the per-source cap get 429 naming the source", async () => {
  await using h = await startHarness({
    maxConnections: 100,
    maxConnectionsPerSource: 2,
    maxUnauthenticatedConnections: 100,
  });
  const held = await Promise.all([1, 2].map(() => idle(h.server.baseUrl)));
  try {
    await until(() => h.server.connections.total === 2, "2 connections");
    const r = await refusedWith(h.server.baseUrl);
    assertEquals(r.status, 429, r.text);
    assertStringIncludes(r.text, "too many streaming connections from 127.0.0.1 (limit 2)");
  } finally {
    for (const c of held) c.close();
  }
});

Deno.test("connections that have not presented a token are capped; sessions past their token are not", async () => {
  await using h = await startHarness({
    maxConnections: 100,
    maxConnectionsPerSource: 100,
    maxUnauthenticatedConnections: 2,
  });
  h.backend.startContainer("quiet", ["sleep", "600"]);
  const attach = await SpdyRemoteCommand.open(
    h.server.attachUrl({
      containerId: "quiet",
      tty: false,
      stdin: false,
      stdout: true,
      stderr: true,
    }),
    { stderr: true },
  );
  const held: Deno.TcpConn[] = [];
  try {
    await until(() => h.server.connections.unauthenticated === 0, "the attach to authenticate");
    held.push(await idle(h.server.baseUrl), await idle(h.server.baseUrl));
    await until(() => h.server.connections.unauthenticated === 2, "2 idle connections");
    const r = await refusedWith(h.server.baseUrl);
    assertEquals(r.status, 503, r.text);
    assertStringIncludes(r.text, "waiting to present a token (limit 2)");
    assertEquals(h.server.connections, { total: 3, unauthenticated: 2 });
  } finally {
    for (const c of held) c.close();
    attach.close();
  }
});

Deno.test("a request head trickled a byte at a time gets 408 at the head timeout", async () => {
  await using h = await startHarness({ headTimeoutMs: 300 });
  const conn = await idle(h.server.baseUrl);
  const head = new TextEncoder().encode(
    `GET /exec/x HTTP/1.1\r\nX-Pad: ${"a".repeat(2000)}\r\n\r\n`,
  );
  try {
    const buf = new Uint8Array(4096);
    let sent = 0;
    let answer = "";
    const reading = conn.read(buf);
    reading.catch(() => {}); // still pending if the server never answers
    for (; sent < head.length; sent++) {
      await conn.write(head.subarray(sent, sent + 1));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const later = new Promise((r) => (timer = setTimeout(r, 20, "later")));
      const n = await Promise.race([reading, later]);
      clearTimeout(timer);
      if (n === "later") continue;
      if (typeof n === "number") answer = new TextDecoder().decode(buf.subarray(0, n));
      break;
    }
    // Every byte kept the connection busy; the deadline held all the same.
    assert(sent < head.length, "the whole head was sent before the server gave up");
    assertMatch(answer, /^HTTP\/1\.1 408 /);
    await until(() => h.server.connections.total === 0, "the connection to close");
  } finally {
    conn.close();
  }
});
