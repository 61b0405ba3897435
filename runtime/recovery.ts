/**
 * Recovery at agent start: rebuild the view from the metadata store and the shims, then
 * reconcile with the machine.
 *
 * Assumptions this code relies on (keep them true elsewhere):
 * - A record is written before its operation touches the machine, with phase `creating`;
 *   it becomes `ready` only when the operation finished. So `creating` after a crash means
 *   "half-made, roll back", and every step's undo is idempotent.
 * - Removal marks the record `removing` before tearing anything down and deletes the record
 *   last. So `removing` means "finish the removal", and removal steps are idempotent.
 * - Shims outlive the agent and keep the exit record of their container on disk; a
 *   container that exited while the agent was down reports its real exit code and time.
 * - Everything sauropod makes lives under its root and state dirs, named by pod or
 *   container id: anything there without a record is an orphan and is removed (and logged).
 *
 * @module
 */
import type { ContainerDoc, SandboxDoc } from "./records.ts";
import {
  type Container,
  decodeContainerConfig,
  decodeResources,
  decodeSandboxConfig,
  type Sandbox,
} from "./records.ts";
import type { RuntimeCore } from "./core.ts";
import { containerTransition, podTransition } from "./state.ts";
import { recordExit, watchExit } from "./container/exit.ts";
import { removeLocked } from "./container/remove.ts";
import { removeSandboxLocked } from "./pod/remove.ts";
import { shimRuntime } from "./shim_runtime.ts";
import { refillPool } from "./spare_shims.ts";
import { nowNs } from "../lib/clock.ts";
import { unpinNamespaces } from "../network/mod.ts";
import { unmountShm } from "./pod/shm.ts";
import { messageOf } from "../errors/mod.ts";

/** Per-item bound, so one hung shim cannot stall startup (containerd's recover does too). */
const ITEM_TIMEOUT_MS = 10_000;

/** What recovery found and did, for the log and the tests. */
export interface RecoveryReport {
  sandboxes: number;
  containers: number;
  running: number;
  exitedWhileDown: number;
  rolledBack: number;
  rolledForward: number;
  orphans: string[];
}

/**
 * Rebuilds the runtime's state from disk and reconciles it (once, at start), then starts
 * the node's spare shim; never throws for one bad item.
 */
export async function recover(core: RuntimeCore): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    sandboxes: 0,
    containers: 0,
    running: 0,
    exitedWhileDown: 0,
    rolledBack: 0,
    rolledForward: 0,
    orphans: [],
  };
  const log = core.log.with({ phase: "recovery" });

  for (const rec of core.deps.store.all<SandboxDoc>("sandbox")) {
    const s: Sandbox = {
      doc: rec.doc,
      config: decodeSandboxConfig(rec.doc.config),
      nameKey: rec.nameKey,
    };
    core.sandboxes.set(s.doc.id, s);
    core.sandboxNames.set(s.nameKey, s.doc.id);
  }
  for (const rec of core.deps.store.all<ContainerDoc>("container")) {
    const c: Container = {
      doc: rec.doc,
      config: decodeContainerConfig(rec.doc.config),
      nameKey: rec.nameKey,
      resources: rec.doc.resources ? decodeResources(rec.doc.resources) : undefined,
    };
    core.containers.set(c.doc.id, c);
    core.containerNames.set(c.nameKey, c.doc.id);
  }

  await Promise.all(
    [...core.containers.values()].map((c) =>
      bounded(core.locks.run(c.doc.id, () => recoverContainer(core, c, report)), c.doc.id)
        .catch((err) => log.error("cannot recover container", { containerId: c.doc.id, err }))
    ),
  );
  await Promise.all(
    [...core.sandboxes.values()].map((s) =>
      bounded(core.locks.run(s.doc.id, () => recoverSandbox(core, s, report)), s.doc.id)
        .catch((err) => log.error("cannot recover pod sandbox", { podId: s.doc.id, err }))
    ),
  );
  await removeOrphans(core, report).catch((err) => log.error("orphan cleanup failed", { err }));

  report.sandboxes = core.sandboxes.size;
  report.containers = core.containers.size;
  log.info("recovered state", { ...report, orphans: report.orphans.length });
  for (const o of report.orphans) log.info("removed orphan", { what: o });
  refillPool(core);
  return report;
}

function bounded<T>(p: Promise<T>, id: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`recovery of ${id} timed out`)), ITEM_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function recoverContainer(core: RuntimeCore, c: Container, report: RecoveryReport) {
  const log = core.log.with({ containerId: c.doc.id });
  if (c.doc.phase === "creating") {
    // Half-made: undo whatever exists, idempotently, as CreateContainer's undo would.
    log.info("rolling back a container creation interrupted by a crash");
    await core.deps.shims.cleanup(c.doc.id, shimRuntime(core));
    await core.deps.images.unmountRootfs(c.doc.id, c.doc.rootfs);
    await core.deps.images.unmountVolumes(`${c.doc.bundle}/volumes`);
    await Deno.remove(c.doc.bundle, { recursive: true }).catch(() => {});
    containerTransition(core, c, "discarded");
    report.rolledBack++;
    return;
  }
  if (c.doc.phase === "removing") {
    log.info("finishing a container removal interrupted by a crash");
    await removeLocked(core, c);
    report.rolledForward++;
    return;
  }
  if (c.doc.state === "exited") {
    // Nothing runs; the shim (if still there) only keeps the exit record.
    c.shim = await core.deps.shims.reconnect(c.doc.id).catch(() => undefined);
    return;
  }
  const shim = await core.deps.shims.reconnect(c.doc.id).catch((err) => {
    log.warn("cannot reconnect to the container's shim", { err: messageOf(err) });
    return undefined;
  });
  if (shim) {
    c.shim = shim;
    const st = await shim.state();
    if (st.status === "running") {
      containerTransition(core, c, "restored", {
        pid: st.pid,
        ...(c.doc.startedAtNs === "0" ? { startedAtNs: nowNs().toString() } : {}),
      });
      void watchExit(core, c);
      report.running++;
    } else if (st.status === "stopped" && st.exit) {
      if (c.doc.state === "running") report.exitedWhileDown++;
      recordExit(core, c, st.exit);
    }
    return;
  }
  // No live shim: the exit record it left says how the container ended.
  const exit = await core.deps.shims.lastExit(c.doc.id).catch(() => undefined);
  await core.deps.shims.cleanup(c.doc.id, shimRuntime(core)).catch(() => {});
  if (c.doc.state === "running" || c.doc.state === "created") {
    report.exitedWhileDown++;
    recordExit(
      core,
      c,
      exit ?? {
        exitCode: 137,
        exitedAtNs: nowNs(),
        oomKilled: false,
        reason: "the container's shim was gone when the agent restarted; the container was killed",
      },
    );
  }
}

async function recoverSandbox(core: RuntimeCore, s: Sandbox, report: RecoveryReport) {
  const log = core.log.with({ podId: s.doc.id });
  if (s.doc.phase === "creating" || s.doc.phase === "removing") {
    log.info(
      s.doc.phase === "creating"
        ? "rolling back a pod creation interrupted by a crash"
        : "finishing a pod removal interrupted by a crash",
    );
    await removeSandboxLocked(core, s);
    if (s.doc.phase === "creating") report.rolledBack++;
    else report.rolledForward++;
    return;
  }
  if (s.doc.pause) {
    s.pauseShim = await core.deps.shims.reconnect(s.doc.pause.containerId).catch(() => undefined);
    if (s.doc.state === "ready") {
      const st = await s.pauseShim?.state().catch(() => undefined);
      if (!st || st.status !== "running") {
        log.warn("the pod's pause container is gone: the pod is not ready");
        podTransition(core, s, "lost");
      }
    }
  }
  if (s.doc.state === "ready") {
    for (const path of [s.doc.ns.net, s.doc.ns.ipc, s.doc.ns.uts]) {
      if (path && !(await exists(path))) {
        log.warn("a pinned namespace of the pod is gone: the pod is not ready", { path });
        podTransition(core, s, "lost");
        break;
      }
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function listDir(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) out.push(e.name);
  } catch {
    // missing
  }
  return out;
}

/** Removes shims, runc containers, bundles, mounts and pod dirs that no record claims. */
async function removeOrphans(core: RuntimeCore, report: RecoveryReport): Promise<void> {
  const known = new Set<string>([...core.containers.keys(), ...core.sandboxes.keys()]);
  for (const id of await core.deps.shims.ids()) {
    if (known.has(id)) continue;
    await core.deps.shims.cleanup(id, shimRuntime(core)).catch(() => {});
    report.orphans.push(`shim and runc container ${id}`);
  }
  const runtimeIds = await core.deps.shims.runtimeIds(shimRuntime(core)).catch((err) => {
    core.log.warn("cannot list the runtime's containers", { err });
    return [];
  });
  for (const id of runtimeIds) {
    if (known.has(id)) continue;
    await core.deps.shims.cleanup(id, shimRuntime(core)).catch(() => {});
    report.orphans.push(`runc container ${id}`);
  }
  for (const id of await listDir(`${core.config.root}/containers`)) {
    if (core.containers.has(id)) continue;
    await core.deps.images.unmountRootfs(id, `${core.config.root}/containers/${id}/rootfs`);
    await core.deps.images.unmountVolumes(`${core.config.root}/containers/${id}/volumes`);
    await Deno.remove(`${core.config.root}/containers/${id}`, { recursive: true }).catch(() => {});
    report.orphans.push(`container bundle ${id}`);
  }
  for (const id of await listDir(`${core.config.state}/ns`)) {
    if (core.sandboxes.has(id)) continue;
    await unpinNamespaces(`${core.config.state}/ns/${id}`).catch(() => {});
    report.orphans.push(`pinned namespaces ${id}`);
  }
  for (const id of await listDir(`${core.config.state}/sandboxes`)) {
    if (core.sandboxes.has(id)) continue;
    const dir = `${core.config.state}/sandboxes/${id}`;
    await unmountShm(`${dir}/shm`).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    report.orphans.push(`pod state ${id}`);
  }
  for (const id of await listDir(`${core.config.root}/sandboxes`)) {
    if (core.sandboxes.has(id)) continue;
    const bundle = `${core.config.root}/sandboxes/${id}/bundle`;
    await core.deps.images.unmountRootfs(id, `${bundle}/rootfs`);
    await Deno.remove(`${core.config.root}/sandboxes/${id}`, { recursive: true }).catch(() => {});
    report.orphans.push(`pod files ${id}`);
  }
}
