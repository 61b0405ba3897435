import { assertEquals } from "../testing/assert.ts";
import { parseProcNetDev } from "./_netdev.ts";

// A /proc/net/dev of a pod netns on Linux 6.x, plus a line in the old no-space format.
const SAMPLE = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     168       2    0    0    0     0          0         0      168       2    0    0    0     0       0          0
  eth0: 12345678901   9876    3    5    0     0          0         0  4242     42    7    1    0     0       0          0
 veth1:1234 1 0 0 0 0 0 0 5678 2 0 0 0 0 0 0
 bogus: 1 2 3
`;

Deno.test("parseProcNetDev() reads bytes, packets, errors and drops per interface", () => {
  const row = (name: string, rx: bigint[], tx: bigint[]) => ({
    name,
    rxBytes: rx[0]!,
    rxPackets: rx[1]!,
    rxErrors: rx[2]!,
    rxDropped: rx[3]!,
    txBytes: tx[0]!,
    txPackets: tx[1]!,
    txErrors: tx[2]!,
    txDropped: tx[3]!,
  });
  assertEquals(parseProcNetDev(SAMPLE), [
    row("lo", [168n, 2n, 0n, 0n], [168n, 2n, 0n, 0n]),
    row("eth0", [12345678901n, 9876n, 3n, 5n], [4242n, 42n, 7n, 1n]),
    row("veth1", [1234n, 1n, 0n, 0n], [5678n, 2n, 0n, 0n]),
  ]);
});

Deno.test("parseProcNetDev() returns nothing for an empty table", () => {
  assertEquals(parseProcNetDev(""), []);
  assertEquals(parseProcNetDev(SAMPLE.split("\n").slice(0, 2).join("\n")), []);
});
