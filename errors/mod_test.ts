import { assertEquals } from "../testing/assert.ts";
import {
  internal,
  isNotFound,
  kindOf,
  messageOf,
  notFound,
  SauropodError,
  unavailable,
  wrap,
} from "./mod.ts";

Deno.test("kindOf() reads the kind of a SauropodError", () => {
  assertEquals(kindOf(notFound('pod "x" not found')), "not-found");
  assertEquals(kindOf(unavailable("registry down")), "unavailable");
});

Deno.test("kindOf() walks the cause chain to a Deno error", () => {
  const inner = new Deno.errors.NotFound("no such file");
  const outer = new Error("reading config", { cause: new Error("open", { cause: inner }) });
  assertEquals(kindOf(outer), "not-found");
  assertEquals(isNotFound(outer), true);
});

Deno.test("kindOf() stops at the first SauropodError on the chain", () => {
  const err = internal("boom", { cause: new Deno.errors.NotFound("x") });
  assertEquals(kindOf(err), "internal");
});

Deno.test("kindOf() of an unknown value is internal", () => {
  assertEquals(kindOf("just a string"), "internal");
  assertEquals(kindOf(undefined), "internal");
  assertEquals(kindOf(new TypeError("bad")), "internal");
});

Deno.test("kindOf() maps an AbortError to canceled and a TimeoutError to deadline-exceeded", () => {
  assertEquals(kindOf(new DOMException("aborted", "AbortError")), "canceled");
  assertEquals(kindOf(new DOMException("timed out", "TimeoutError")), "deadline-exceeded");
});

Deno.test("wrap() adds context and keeps the kind", () => {
  const err = wrap(new Deno.errors.AlreadyExists("file exists"), "cannot create bundle");
  assertEquals(err instanceof SauropodError, true);
  assertEquals(err.kind, "already-exists");
  assertEquals(err.message, "cannot create bundle: file exists");
});

Deno.test("wrap() can override the kind", () => {
  const err = wrap(new Error("x"), "shim", "unavailable");
  assertEquals(err.kind, "unavailable");
  assertEquals(messageOf(err), "shim: x");
});

Deno.test("kindOf() reads a full disk as resource-exhausted", () => {
  const enospc = new Error("No space left on device (os error 28): write '/var/lib/sauropod/x'");
  assertEquals(kindOf(new Error("cannot unpack", { cause: enospc })), "resource-exhausted");
});
