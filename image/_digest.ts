/**
 * Digests: sha256 of bytes, and the chain ids that name a stack of layers
 * (OCI `config.md`: `ChainID(L₀) = DiffID(L₀)`, `ChainID(L₀…Lₙ) =
 * SHA256(ChainID(L₀…Lₙ₋₁) + " " + DiffID(Lₙ))`).
 *
 * @module
 */
import { createHash } from "node:crypto";

/** `sha256:<hex>` of `bytes`. */
export function sha256(bytes: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** The chain id of every prefix of `diffIds`: element i names layers 0…i stacked. */
export function chainIds(diffIds: readonly string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds) {
    const prev = out.at(-1);
    out.push(prev === undefined ? d : sha256(`${prev} ${d}`));
  }
  return out;
}

/** The hex part of a `sha256:` digest. */
export function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(":") + 1);
}
