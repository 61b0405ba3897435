import { assertEquals } from "../testing/assert.ts";
import { limit, statField } from "./process.ts";

Deno.test("process: /proc/self/stat fields survive a command name with spaces and parentheses", () => {
  // pid (comm) state ppid … utime(14) stime(15) … vsize(23) rss(24)
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 1));
  const line = `4242 (de no) (x)) ${fields.slice(2).join(" ")}\n`;
  assertEquals(statField(line, 3), 3);
  assertEquals(statField(line, 14), 14);
  assertEquals(statField(line, 23), 23);
  assertEquals(statField(line, 99), undefined);
});

Deno.test("process: limits read the soft value; unlimited is 2^64 − 1 as client_golang has it", () => {
  const limits = [
    "Limit                     Soft Limit           Hard Limit           Units     ",
    "Max open files            1048576              1048576              files     ",
    "Max address space         unlimited            unlimited            bytes     ",
    "",
  ].join("\n");
  assertEquals(limit(limits, "Max open files"), 1048576);
  assertEquals(limit(limits, "Max address space"), 18446744073709551615);
  assertEquals(limit(limits, "Max processes"), undefined);
});
