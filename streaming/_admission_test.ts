import { assert, assertEquals } from "../testing/assert.ts";
import { Logger } from "../log/mod.ts";
import { Admission, isRefusal, type Refusal, RefusalLog, type Ticket } from "./_admission.ts";

function ticket(r: Ticket | Refusal): Ticket {
  if (isRefusal(r)) throw new Error(`refused: ${r.message}`);
  return r;
}

function refusal(r: Ticket | Refusal): Refusal {
  if (!isRefusal(r)) throw new Error("admitted");
  return r;
}

Deno.test("Admission caps connections in total with 503", () => {
  const a = new Admission({ total: 2, perSource: 10, unauthenticated: 10 });
  const t1 = ticket(a.admit("10.0.0.1"));
  ticket(a.admit("10.0.0.2"));
  const r = refusal(a.admit("10.0.0.3"));
  assertEquals([r.reason, r.status, r.message], [
    "total",
    503,
    "too many streaming connections (limit 2)",
  ]);
  t1.release();
  t1.release(); // twice is once
  ticket(a.admit("10.0.0.3"));
  assertEquals(a.counts.total, 2);
});

Deno.test("Admission caps connections per source address with 429", () => {
  const a = new Admission({ total: 10, perSource: 2, unauthenticated: 10 });
  const t = ticket(a.admit("127.0.0.1"));
  ticket(a.admit("127.0.0.1"));
  const r = refusal(a.admit("127.0.0.1"));
  assertEquals([r.reason, r.status], ["per-source", 429]);
  assert(r.message.includes("from 127.0.0.1 (limit 2)"), r.message);
  ticket(a.admit("::1"));
  t.release();
  ticket(a.admit("127.0.0.1"));
});

Deno.test("Admission caps connections without a token; authenticated ones do not count", () => {
  const a = new Admission({ total: 10, perSource: 10, unauthenticated: 2 });
  const t1 = ticket(a.admit("x"));
  const t2 = ticket(a.admit("x"));
  assertEquals(refusal(a.admit("x")).reason, "unauthenticated");
  t1.authenticated();
  t1.authenticated(); // twice is once
  const t3 = ticket(a.admit("x"));
  assertEquals(a.counts, { total: 3, unauthenticated: 2 });
  t1.release();
  t2.release();
  t3.release();
  assertEquals(a.counts, { total: 0, unauthenticated: 0 });
});

Deno.test("RefusalLog says a reason once per interval, then how many it did not say", () => {
  const lines: string[] = [];
  let now = 0;
  const log = new RefusalLog(
    new Logger({ level: "debug", sink: (l) => lines.push(l) }),
    60_000,
    () => now,
  );
  const full: Refusal = { reason: "total", status: 503, message: "full" };
  const slow: Refusal = { reason: "unauthenticated", status: 503, message: "slow" };
  for (let i = 0; i < 1000; i++) log.note(full, "127.0.0.1");
  log.note(slow, "127.0.0.1");
  assertEquals(lines.length, 2);
  now = 61_000;
  log.note(full, "127.0.0.1");
  assertEquals(lines.length, 4);
  assert(lines[2]!.includes("refused more streaming connections"), lines[2]);
  assert(lines[2]!.includes("count=999"), lines[2]);
  log.note(full, "127.0.0.1");
  log.flush();
  assertEquals(lines.length, 5);
  assert(lines[4]!.includes("count=1"), lines[4]);
});
