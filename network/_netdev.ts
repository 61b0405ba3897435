/**
 * The kernel's `/proc/net/dev` table: per-interface traffic counters of the reader's
 * network namespace.
 *
 * @module
 */
import type { InterfaceStats } from "./types.ts";

/**
 * Parses `/proc/net/dev`. Two header lines, then one line per interface:
 * `name: rx_bytes rx_packets rx_errs rx_drop rx_fifo rx_frame rx_compressed rx_multicast
 * tx_bytes tx_packets tx_errs tx_drop tx_fifo tx_colls tx_carrier tx_compressed`.
 * Interface names cannot contain ':', so the first colon ends the name (old kernels print
 * no space after it). Malformed lines are skipped.
 */
export function parseProcNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    if (name === "" || name.includes("|") || fields.length < 16) continue;
    if (!fields.every((f) => /^\d+$/.test(f))) continue;
    out.push({
      name,
      rxBytes: BigInt(fields[0]!),
      rxPackets: BigInt(fields[1]!),
      rxErrors: BigInt(fields[2]!),
      rxDropped: BigInt(fields[3]!),
      txBytes: BigInt(fields[8]!),
      txPackets: BigInt(fields[9]!),
      txErrors: BigInt(fields[10]!),
      txDropped: BigInt(fields[11]!),
    });
  }
  return out;
}
