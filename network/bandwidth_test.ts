import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { bandwidthFromAnnotations, parseBitsPerSecond } from "./bandwidth.ts";

Deno.test("parseBitsPerSecond() reads decimal and binary quantities", () => {
  assertEquals(parseBitsPerSecond("10M", "f"), 10_000_000);
  assertEquals(parseBitsPerSecond("100k", "f"), 100_000);
  assertEquals(parseBitsPerSecond("1Gi", "f"), 1_073_741_824);
  assertEquals(parseBitsPerSecond("1.5M", "f"), 1_500_000);
  assertEquals(parseBitsPerSecond("500000", "f"), 500_000);
});

Deno.test("parseBitsPerSecond() rejects junk and unreasonable rates, naming the field", () => {
  for (const bad of ["", "fast", "10 Mbit", "10m", "-1M", "10ki"]) {
    assertThrows(() => parseBitsPerSecond(bad, "annotation x"), SauropodError, "annotation x");
  }
  assertThrows(() => parseBitsPerSecond("999", "f"), SauropodError, "unreasonably small");
  assertThrows(() => parseBitsPerSecond("2P", "f"), SauropodError, "unreasonably large");
});

Deno.test("bandwidthFromAnnotations() takes the Kubernetes bandwidth annotations", () => {
  assertEquals(bandwidthFromAnnotations({ "app": "web" }), undefined);
  assertEquals(
    bandwidthFromAnnotations({
      "kubernetes.io/ingress-bandwidth": "10M",
      "kubernetes.io/egress-bandwidth": "1M",
    }),
    { ingressRate: 10_000_000, egressRate: 1_000_000 },
  );
  assertEquals(bandwidthFromAnnotations({ "kubernetes.io/egress-bandwidth": "2M" }), {
    egressRate: 2_000_000,
  });
  assertThrows(
    () => bandwidthFromAnnotations({ "kubernetes.io/ingress-bandwidth": "lots" }),
    SauropodError,
    "kubernetes.io/ingress-bandwidth",
  );
});
