/**
 * CheckpointPod and RestorePod (KEP-5823, cri-api master; neither containerd nor CRI-O has
 * them yet). The KEP defines no format; sauropod uses the one of the containerd prototype
 * and Podman's pod archives, unpacked into `output_path`:
 *
 *   pod.options        {"version":1,"containers":{"<name>":"<id>-<name>"},"annotations":{…}}
 *   pod.dump           the PodSandboxConfig (snake_case JSON)
 *   <id>-<name>/       one container checkpoint each, in the container archive's layout
 *
 * CheckpointPod freezes every listed container, dumps each, records each writable layer,
 * and thaws them all whatever happened (the pod is never left frozen); the caller's
 * deadline bounds it; on error everything written into `output_path` is removed (the
 * directory itself stays). RestorePod runs a new pod from the request's config and
 * restore-creates each container from its folder: they come back CREATED, and the
 * kubelet's StartContainer restores each. On error the new pod is removed with them.
 *
 * @module
 */
import { failedPrecondition, invalidArgument, messageOf } from "../../errors/mod.ts";
import type { ContainerConfig, PodSandboxConfig } from "../../api/gen/api.ts";
import { type ArchiveInput, writeArchiveDir } from "../../checkpoint/mod.ts";
import type { RuntimeCore } from "../core.ts";
import type { Container } from "../records.ts";
import { mkdirPrivate } from "../modes.ts";
import { podStatusOf } from "../views.ts";
import { requireCheckpointCapability } from "./capability.ts";
import {
  checkCheckpointPath,
  DEFAULT_CHECKPOINT_TIMEOUT_S,
  dumpFrozen,
  thaw,
} from "./container.ts";
import { criStatusJson } from "./_json.ts";
import { runPodSandbox } from "../pod/run.ts";
import { stopPodSandbox } from "../pod/stop.ts";
import { removePodSandbox } from "../pod/remove.ts";
import { createContainer } from "../container/create.ts";
import { recordedRuntime } from "../shim_runtime.ts";

/** The file naming a pod checkpoint's containers. */
export const POD_OPTIONS = "pod.options";
/** The pod's config. */
export const POD_DUMP = "pod.dump";
const MAX_POD_OPTIONS_BYTES = 1 << 20;
const SAFE_DIR = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

function noOptions(options: Record<string, string>, field: string): void {
  const keys = Object.keys(options);
  if (keys.length) {
    throw invalidArgument(
      `${field}: unknown key ${JSON.stringify(keys[0])} (sauropod's handlers take no options)`,
    );
  }
}

/** Checkpoints containers of pod `podId` into the existing, empty directory `outputPath`. */
export async function checkpointPod(
  core: RuntimeCore,
  podId: string,
  outputPath: string,
  containerIds: string[],
  options: Record<string, string>,
  deadline?: number,
): Promise<void> {
  noOptions(options, "options");
  checkCheckpointPath(core, outputPath, "output_path");
  const sandbox = core.sandbox(podId);
  await core.locks.run(sandbox.doc.id, async () => {
    core.requireReady(sandbox, "checkpoint the pod");
    const containers: Container[] = containerIds.map((id, i) => {
      const c = core.container(id, `container_ids[${i}]`);
      if (c.doc.sandboxId !== sandbox.doc.id) {
        throw invalidArgument(
          `container_ids[${i}]: container "${c.doc.id}" is not in pod "${sandbox.doc.id}"`,
        );
      }
      if (c.doc.state !== "running" || !c.shim) {
        throw failedPrecondition(
          `container_ids[${i}]: container "${c.doc.id}" is ${c.doc.state}: only running ` +
            "containers can be checkpointed",
        );
      }
      return c;
    });
    let entries: string[];
    try {
      const st = await Deno.stat(outputPath);
      if (!st.isDirectory) throw new Error("not a directory");
      entries = [...Deno.readDirSync(outputPath)].map((e) => e.name);
    } catch (err) {
      throw invalidArgument(`output_path: ${outputPath} is not a directory (${messageOf(err)})`);
    }
    if (entries.length) throw invalidArgument(`output_path: ${outputPath} is not empty`);
    await requireCheckpointCapability(core, "CheckpointPod");

    const work = `${core.config.root}/checkpoints/pod-${crypto.randomUUID().slice(0, 8)}`;
    await mkdirPrivate(work);
    const written: string[] = [];
    try {
      const remaining = () =>
        deadline !== undefined
          ? Math.max(1000, deadline - Date.now())
          : DEFAULT_CHECKPOINT_TIMEOUT_S * 1000;
      const inputs: ArchiveInput[] = [];
      const frozen: Container[] = [];
      // Freeze all, dump all, thaw all: the containers' states are of one moment.
      try {
        for (const c of containers) {
          await c.shim!.pause();
          frozen.push(c);
        }
        for (const c of containers) {
          inputs.push(await dumpFrozen(core, c, `${work}/${c.doc.id}`, remaining()));
        }
      } finally {
        for (const c of frozen) await thaw(core, c);
      }
      const names: Record<string, string> = {};
      for (const [i, c] of containers.entries()) {
        const name = c.config.metadata?.name ?? "";
        const dir = `${c.doc.id}-${name}`;
        written.push(dir);
        await writeArchiveDir(`${outputPath}/${dir}`, inputs[i]!);
        names[name] = dir;
      }
      const meta = sandbox.config.metadata;
      const podOptions = {
        version: 1,
        containers: names,
        annotations: {
          "org.criu.checkpoint.pod.name": meta?.name ?? "",
          "org.criu.checkpoint.pod.id": sandbox.doc.id,
          "org.criu.checkpoint.pod.namespace": meta?.namespace ?? "",
          "org.criu.checkpoint.pod.uid": meta?.uid ?? "",
          "org.criu.checkpoint.engine.name": "sauropod",
          "org.criu.checkpoint.runtime.name":
            recordedRuntime(core, sandbox.doc.handler).binary.split("/").pop() ?? "runc",
        },
      };
      written.push(POD_OPTIONS, POD_DUMP);
      const enc = new TextEncoder();
      await Deno.writeFile(
        `${outputPath}/${POD_DUMP}`,
        enc.encode(JSON.stringify(
          criStatusJson(sandbox.config),
        )),
        { createNew: true, mode: 0o600 },
      );
      await Deno.writeFile(
        `${outputPath}/${POD_OPTIONS}`,
        enc.encode(JSON.stringify(podOptions)),
        { createNew: true, mode: 0o600 },
      );
      core.log.info("pod checkpointed", {
        podId: sandbox.doc.id,
        containers: containers.length,
        outputPath,
        state: podStatusOf(sandbox).state,
      });
    } catch (err) {
      for (const name of written) {
        await Deno.remove(`${outputPath}/${name}`, { recursive: true }).catch(() => {});
      }
      throw err;
    } finally {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  });
}

/** What {@link restorePod} answers. */
export interface RestoredPod {
  podSandboxId: string;
  restoredContainers: { name: string; containerId: string }[];
}

async function readPodOptions(path: string): Promise<Record<string, string>> {
  const file = `${path}/${POD_OPTIONS}`;
  let text: string;
  try {
    const st = await Deno.lstat(file);
    if (!st.isFile) throw new Error("not a regular file");
    if (st.size > MAX_POD_OPTIONS_BYTES) throw new Error(`larger than ${MAX_POD_OPTIONS_BYTES}`);
    text = await Deno.readTextFile(file);
  } catch (err) {
    throw invalidArgument(
      `checkpoint_path: ${path} is not a pod checkpoint (${POD_OPTIONS}: ${messageOf(err)})`,
    );
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`checkpoint_path: ${POD_OPTIONS} is not JSON: ${messageOf(err)}`);
  }
  const c = (v as { containers?: unknown })?.containers;
  if (typeof c !== "object" || c === null || Array.isArray(c)) {
    throw invalidArgument(`checkpoint_path: ${POD_OPTIONS} names no containers`);
  }
  const out: Record<string, string> = {};
  for (const [name, dir] of Object.entries(c)) {
    if (typeof dir !== "string" || !SAFE_DIR.test(dir)) {
      throw invalidArgument(
        `checkpoint_path: ${POD_OPTIONS} names folder ${JSON.stringify(dir)} for "${name}"`,
      );
    }
    out[name] = dir;
  }
  return out;
}

/** Restores the pod checkpoint at `checkpointPath` into a new pod. */
export async function restorePod(
  core: RuntimeCore,
  checkpointPath: string,
  config: PodSandboxConfig,
  handler: string,
  options: Record<string, string>,
  containers: ContainerConfig[],
  signal?: AbortSignal,
): Promise<RestoredPod> {
  noOptions(options, "options");
  // NOT_FOUND naming an unknown handler, as RunPodSandbox.
  core.handlers.select(handler);
  const dirs = await readPodOptions(checkpointPath);
  const want = containers.map((c) => c.metadata?.name ?? "");
  if (new Set(want).size !== want.length) {
    throw invalidArgument("container_configs: two containers have the same metadata.name");
  }
  const have = Object.keys(dirs).sort();
  if (JSON.stringify([...want].sort()) !== JSON.stringify(have)) {
    throw invalidArgument(
      `container_configs: names ${JSON.stringify([...want].sort())} do not match the ` +
        `checkpoint's ${JSON.stringify(have)}`,
    );
  }
  await requireCheckpointCapability(core, "RestorePod");
  const podId = await runPodSandbox(core, config, handler, signal);
  try {
    const restored: { name: string; containerId: string }[] = [];
    for (const c of containers) {
      const name = c.metadata!.name;
      const containerId = await createContainer(core, podId, c, config, signal, {
        restoreFrom: `${checkpointPath}/${dirs[name]!}`,
      });
      restored.push({ name, containerId });
    }
    core.log.info("pod restored", { podId, from: checkpointPath, containers: restored.length });
    return { podSandboxId: podId, restoredContainers: restored };
  } catch (err) {
    await stopPodSandbox(core, podId).catch(() => {});
    await removePodSandbox(core, podId).catch((e) =>
      core.log.error("cannot remove the pod of a failed restore", { podId, err: e })
    );
    throw err;
  }
}
