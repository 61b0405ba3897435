/**
 * Pod traffic shaping requested through the Kubernetes annotations
 * `kubernetes.io/ingress-bandwidth` and `kubernetes.io/egress-bandwidth` (e.g. `10M`), which
 * the kubelet passes through untouched and the runtime turns into the CNI `bandwidth`
 * capability, as containerd does.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";
import type { PodBandwidth } from "./types.ts";

/** The annotation limiting traffic into the pod. */
export const INGRESS_BANDWIDTH_ANNOTATION = "kubernetes.io/ingress-bandwidth";
/** The annotation limiting traffic out of the pod. */
export const EGRESS_BANDWIDTH_ANNOTATION = "kubernetes.io/egress-bandwidth";

const SUFFIXES: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

// The kubelet's own bounds (pkg/util/bandwidth): below 1 kbit/s or above 1 Pbit/s is a typo.
const MIN_BITS = 1e3;
const MAX_BITS = 1e15;

/**
 * Parses a Kubernetes quantity of bits per second (`100k`, `10M`, `1Gi`, `500000`), or
 * throws invalid-argument naming `field`.
 */
export function parseBitsPerSecond(value: string, field: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)([kMGTPE]i?)?\s*$/.exec(value);
  const factor = m ? SUFFIXES[m[2] ?? ""] : undefined;
  if (!m || factor === undefined || m[2] === "ki") {
    throw invalidArgument(`${field} ${JSON.stringify(value)} is not a quantity like "10M"`);
  }
  const bits = Math.round(Number(m[1]) * factor);
  if (bits < MIN_BITS) throw invalidArgument(`${field} ${value} is unreasonably small (< 1k)`);
  if (bits > MAX_BITS) throw invalidArgument(`${field} ${value} is unreasonably large (> 1P)`);
  return bits;
}

/** The pod's bandwidth limits from its annotations, or `undefined` when it asks for none. */
export function bandwidthFromAnnotations(
  annotations: Readonly<Record<string, string>>,
): PodBandwidth | undefined {
  const ingress = annotations[INGRESS_BANDWIDTH_ANNOTATION];
  const egress = annotations[EGRESS_BANDWIDTH_ANNOTATION];
  if (ingress === undefined && egress === undefined) return undefined;
  return {
    ...(ingress !== undefined
      ? { ingressRate: parseBitsPerSecond(ingress, `annotation ${INGRESS_BANDWIDTH_ANNOTATION}`) }
      : {}),
    ...(egress !== undefined
      ? { egressRate: parseBitsPerSecond(egress, `annotation ${EGRESS_BANDWIDTH_ANNOTATION}`) }
      : {}),
  };
}
