/**
 * Image pull + unpack of the ≥ 50 MB multi-layer benchmark image from the local registry
 * (Debian files in several layers, pushed as `library/bench`). Each sample starts cold: the
 * image is removed (untimed) before it is pulled again; both runtimes already hold the
 * busybox base layer it shares with the other test images.
 *
 * @module
 */
import type { ImageFsInfoResponse } from "../../cri/gen/api.ts";
import { unavailable } from "../../errors/mod.ts";
import type { BenchRuntime } from "../runtimes.ts";
import type { Workload } from "./types.ts";

const MB = 1e6;

function usedBytes(fs: ImageFsInfoResponse): number {
  return [...fs.imageFilesystems, ...fs.containerFilesystems]
    .reduce((sum, f) => sum + Number(f.usedBytes?.value ?? 0n), 0);
}

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
    const baseline = new Map<string, number>();
    await ctx.each(async (rt) => {
      await removeImage(rt, bench.ref);
      baseline.set(rt.name, usedBytes(await rt.cri.image.imageFsInfo({})));
    });
    const warmup = 1;
    try {
      await ctx.alternate(warmup + ctx.pick(3, 1), async (rt, i) => {
        await removeImage(rt, bench.ref);
        const left = usedBytes(await rt.cri.image.imageFsInfo({})) - baseline.get(rt.name)!;
        if (left > 10 * MB) {
          ctx.note(`${rt.name} still used ${(left / MB).toFixed(0)} MB after RemoveImage`);
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
