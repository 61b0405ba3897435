/**
 * Test assertions with the signatures of Deno std's `@std/assert` (which JSR-less machines
 * cannot install), built on `node:assert`'s deep equality.
 *
 * @module
 */
import { AssertionError, deepStrictEqual } from "node:assert";

/** Throws unless `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new AssertionError({ message: msg });
}

/** Deep, strict equality (Maps, Sets, typed arrays, bigint included). */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    deepStrictEqual(actual, expected);
  } catch (err) {
    if (msg && err instanceof Error) err.message = `${msg}\n${err.message}`;
    throw err;
  }
}

/** The opposite of {@link assertEquals}. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  let equal = true;
  try {
    deepStrictEqual(actual, expected);
  } catch {
    equal = false;
  }
  if (equal) {
    throw new AssertionError({ message: msg ?? `expected a value other than ${fmt(expected)}` });
  }
}

/** Throws unless `actual` is neither null nor undefined. */
export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  if (actual === null || actual === undefined) {
    throw new AssertionError({ message: msg ?? `expected a value, got ${String(actual)}` });
  }
}

/** Throws unless `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError({
      message: msg ?? `expected ${fmt(actual)} to include ${fmt(expected)}`,
    });
  }
}

/** Throws unless `actual` matches `re`. */
export function assertMatch(actual: string, re: RegExp, msg?: string): void {
  if (!re.test(actual)) {
    throw new AssertionError({ message: msg ?? `expected ${fmt(actual)} to match ${re}` });
  }
}

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

function checkError<E extends Error>(
  err: unknown,
  errorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  if (errorClass && !(err instanceof errorClass)) {
    throw new AssertionError({
      message: `expected error to be an instance of ${errorClass.name}, got ${fmt(err)}`,
    });
  }
  if (msgIncludes !== undefined) {
    const message = err instanceof Error ? err.message : String(err);
    if (!message.includes(msgIncludes)) {
      throw new AssertionError({
        message: `expected error message ${fmt(message)} to include ${fmt(msgIncludes)}`,
      });
    }
  }
  return err as E;
}

/** Runs `fn`, expects it to throw, and returns the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  errorClass?: ErrorClass<E>,
  msgIncludes?: string,
): E {
  try {
    fn();
  } catch (err) {
    return checkError(err, errorClass, msgIncludes);
  }
  throw new AssertionError({ message: "expected function to throw" });
}

/** Awaits `fn`, expects it to reject, and returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  errorClass?: ErrorClass<E>,
  msgIncludes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (err) {
    return checkError(err, errorClass, msgIncludes);
  }
  throw new AssertionError({ message: "expected promise to reject" });
}

/** Fails the test unconditionally. */
export function fail(msg: string): never {
  throw new AssertionError({ message: msg });
}

function fmt(v: unknown): string {
  try {
    return typeof v === "string" ? JSON.stringify(v) : Deno.inspect(v, { depth: 4 });
  } catch {
    return String(v);
  }
}
