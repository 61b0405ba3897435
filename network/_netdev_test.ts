import { assertEquals } from "../testing/assert.ts";
import { parseProcNetDev } from "./_netdev.ts";

// A /proc/net/dev of a pod netns on Linux 6.x, plus a line in the old no-space format.
const SAMPLE = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     168       2    0    0    0     0          0         0      168       2    0    0    0     0       0          0
  eth0: 12345678901   9876    3    0    0     0          0         0  4242     42    7    0    0     0       0          0
 veth1:1234 1 0 0 0 0 0 0 5678 2 0 0 0 0 0 0
 bogus: 1 2 3
`;

Deno.test("parseProcNetDev() reads bytes and errors per interface", () => {
  assertEquals(parseProcNetDev(SAMPLE), [
    { name: "lo", rxBytes: 168n, rxErrors: 0n, txBytes: 168n, txErrors: 0n },
    { name: "eth0", rxBytes: 12345678901n, rxErrors: 3n, txBytes: 4242n, txErrors: 7n },
    { name: "veth1", rxBytes: 1234n, rxErrors: 0n, txBytes: 5678n, txErrors: 0n },
  ]);
});

Deno.test("parseProcNetDev() returns nothing for an empty table", () => {
  assertEquals(parseProcNetDev(""), []);
  assertEquals(parseProcNetDev(SAMPLE.split("\n").slice(0, 2).join("\n")), []);
});
