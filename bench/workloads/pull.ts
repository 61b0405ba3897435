/**
 * Image pull + unpack of the ≥ 50 MB multi-layer benchmark image from the local registry
 * (Debian files in several layers, pushed as `library/bench`). Each sample starts cold: the
 * image is removed (untimed) before it is pulled again; both runtimes already hold the
 * busybox base layer it shares with the other test images.
 *
 * @module
 */
import { unavailable } from "../../errors/mod.ts";
import type { BenchRuntime } from "../runtimes.ts";
import { layerDigests } from "./_registry.ts";
import type { Workload } from "./types.ts";

const MB = 1e6;

async function removeImage(rt: BenchRuntime, ref: string): Promise<void> {
  const { image } = await rt.cri.image.imageStatus({ image: { image: ref } });
  if (image) await rt.cri.image.removeImage({ image: { image: ref } });
}

/** Cold pull of the benchmark image. */
export const pull: Workload = {
  name: "pull",
  title: "image pull + unpack of the multi-layer benchmark image",
  quick: false,
  needsBenchImage: true,
  async run(ctx) {
    const bench = ctx.images.bench;
    if (!bench) throw unavailable("the benchmark image was not pushed");
    const f = ctx.figure({
      id: "pull.bench_image",
      label: `pull ${(bench.bytes / MB).toFixed(0)} MB, ${bench.layers} layers`,
      unit: "s",
      kind: "distribution",
      goal: 1.0,
    });
    // The layers only this image has: they must be gone from the content store before each
    // timed pull, or the pull would be warm.
    const shared = new Set(await layerDigests(ctx.images.busybox));
    const own = (await layerDigests(bench.ref)).filter((d) => !shared.has(d));
    const warmup = 1;
    try {
      await ctx.alternate(warmup + ctx.pick(3, 1), async (rt, i) => {
        await removeImage(rt, bench.ref);
        const kept = [];
        for (const d of own) if (await rt.hasBlob(d)) kept.push(d);
        if (kept.length > 0) {
          throw unavailable(`${kept.length} layers of ${bench.ref} remain after RemoveImage`);
        }
        const t0 = performance.now();
        await rt.cri.image.pullImage({ image: { image: bench.ref } }, { timeoutMs: 600_000 });
        const s = (performance.now() - t0) / 1000;
        const { image } = await rt.cri.image.imageStatus({ image: { image: bench.ref } });
        if (!image) throw unavailable(`${bench.ref} is not listed after PullImage`);
        if (i >= warmup) f.add(rt.name, s);
      });
    } finally {
      for (const rt of ctx.runtimes) await removeImage(rt, bench.ref).catch(() => {});
    }
  },
};
