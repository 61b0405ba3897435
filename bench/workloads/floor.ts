/**
 * The floor: bare `runc create` + `runc start` of a bundle with the same image and process
 * as the pods' containers, no runtime around it. Nothing a CRI runtime does can start a
 * container faster than this on the machine.
 *
 * @module
 */
import { unavailable } from "../../errors/mod.ts";
import { RUNC } from "../runtimes.ts";
import { SLEEPER } from "./_pods.ts";
import { fetchBlob, layerDigests } from "./_registry.ts";
import type { Workload } from "./types.ts";

/** Unpacks the layers of `ref` into `rootfs`, as a runtime's snapshotter would. */
async function unpackImage(ref: string, rootfs: string): Promise<void> {
  await Deno.mkdir(rootfs, { recursive: true });
  for (const digest of await layerDigests(ref)) {
    const tar = new Deno.Command("tar", {
      args: ["-xzf", "-", "-C", rootfs],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await (await fetchBlob(ref, digest)).pipeTo(tar.stdin);
    const out = await tar.output();
    if (!out.success) throw unavailable(`tar: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Runs runc. With `logFile`, its stdio is /dev/null and errors are read from the log:
 * `runc create` hands its stdio to the container, so pipes would stay open while it runs.
 */
async function runc(args: string[], logFile?: string): Promise<void> {
  const out = await new Deno.Command(RUNC, {
    args: logFile ? ["--log", logFile, "--log-format", "json", ...args] : args,
    stdin: "null",
    stdout: logFile ? "null" : "piped",
    stderr: logFile ? "null" : "piped",
  }).output();
  if (out.success) return;
  let why = new TextDecoder().decode(out.stderr).trim();
  if (logFile) {
    const last = (await Deno.readTextFile(logFile).catch(() => "")).trim().split("\n").at(-1);
    try {
      why = (JSON.parse(last ?? "") as { msg?: string }).msg ?? why;
    } catch {
      why = last ?? why;
    }
  }
  throw unavailable(`runc ${args.join(" ")}: ${why}`);
}

/** runc create + start. */
export const floor: Workload = {
  name: "floor",
  title: "floor: bare runc create + start of the same bundle",
  quick: true,
  subjects: ["runc"],
  async run(ctx) {
    const f = {
      total: ctx.figure({
        id: "floor.create_start",
        label: "runc create + start",
        unit: "ms",
        kind: "distribution",
        reference: true,
      }),
      create: ctx.figure({
        id: "floor.create",
        label: "  runc create",
        unit: "ms",
        kind: "distribution",
        reference: true,
      }),
      start: ctx.figure({
        id: "floor.start",
        label: "  runc start",
        unit: "ms",
        kind: "distribution",
        reference: true,
      }),
    };
    const dir = `${ctx.runDir}/floor`;
    const bundle = `${dir}/bundle`;
    const root = `${dir}/runc`;
    await unpackImage(ctx.images.busybox, `${bundle}/rootfs`);
    await runc(["spec", "--bundle", bundle]);
    const spec = JSON.parse(await Deno.readTextFile(`${bundle}/config.json`));
    spec.process.args = SLEEPER;
    spec.process.terminal = false;
    spec.hostname = "floor";
    const cgroupBase = `${ctx.cgroupRoot}/floor`;
    const warmup = 2;
    const n = ctx.pick(30, 5);
    for (let i = 0; i < warmup + n; i++) {
      ctx.signal.throwIfAborted();
      const id = `floor-${i}`;
      spec.linux.cgroupsPath = `${cgroupBase}/${id}`;
      await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify(spec));
      try {
        const t0 = performance.now();
        await runc(["--root", root, "create", "--bundle", bundle, id], `${dir}/runc.log`);
        const t1 = performance.now();
        await runc(["--root", root, "start", id]);
        const t2 = performance.now();
        if (i >= warmup) {
          f.total.add("runc", t2 - t0);
          f.create.add("runc", t1 - t0);
          f.start.add("runc", t2 - t1);
        }
      } finally {
        await runc(["--root", root, "delete", "--force", id]).catch(() => {});
      }
    }
  },
};
