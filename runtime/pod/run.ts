/**
 * RunPodSandbox: reserve the name, pin the pod's namespaces, write its files, mount its
 * /dev/shm, create its cgroup, attach it to the network, and — only when the pod shares one
 * PID namespace — start the pause container that holds it.
 *
 * Every step pushes its undo onto a stack; a failure anywhere unwinds the stack, so a
 * failed call leaves no namespace, mount, veth, IPAM reservation, cgroup, file or record.
 * The record is written first with phase `creating`, so a crash mid-way is rolled back by
 * recovery with the same undo steps.
 *
 * @module
 */
import { NamespaceMode, type PodSandboxConfig } from "../../api/gen/api.ts";
import { DEFAULT_PARENT } from "../../cgroups/mod.ts";
import { alreadyExists, canceled, wrap } from "../../errors/mod.ts";
import {
  bandwidthFromAnnotations,
  pinNamespaces,
  type PodNetworkRequest,
  unpinNamespaces,
} from "../../network/mod.ts";
import { newId, sandboxNameKey } from "../ids.ts";
import { nowNs } from "../../lib/clock.ts";
import { encodeSandboxConfig, type Sandbox, type SandboxDoc } from "../records.ts";
import type { RuntimeCore } from "../core.ts";
import { podTransition } from "../state.ts";
import { faultPoint } from "../faults.ts";
import { podHosts, resolvConf } from "./files.ts";
import { podHostname } from "../oci_spec.ts";
import { atomicWrite } from "../../lib/fs.ts";
import { mountShm, unmountShm } from "./shm.ts";
import { removePause, startPause } from "./pause.ts";
import { portMappingsOf } from "./network.ts";
import { spareForPod } from "../spare_shims.ts";
import { checkLogDirectory } from "./log_directory.ts";
import { podUserns } from "./userns.ts";
import { CONTAINER_READABLE_FILE, mkdirPrivate, openToUserns } from "../modes.ts";
import { writePodLevelResources } from "./update_resources.ts";

/** Runs a pod sandbox; returns its id. */
export async function runPodSandbox(
  core: RuntimeCore,
  config: PodSandboxConfig,
  runtimeHandler: string,
  signal?: AbortSignal,
): Promise<string> {
  const meta = config.metadata!;
  const handler = core.handlers.select(runtimeHandler);
  // Refused before anything is made: a pod the handler cannot run never goes READY.
  const userns = podUserns(config, handler);
  if (config.logDirectory) {
    checkLogDirectory(
      config.logDirectory,
      core.config.runtime.podLogRoots,
      "config.log_directory",
    );
  }
  const nsOpts = config.linux?.securityContext?.namespaceOptions;
  const hostNetwork = nsOpts?.network === NamespaceMode.NODE;
  const hostIpc = nsOpts?.ipc === NamespaceMode.NODE;
  const pidMode = nsOpts?.pid === NamespaceMode.POD
    ? "pod"
    : nsOpts?.pid === NamespaceMode.NODE
    ? "node"
    : "container";
  const cgroupParent = config.linux?.cgroupParent ?? "";
  if (cgroupParent) core.deps.cgroups.validateParent(cgroupParent, "config.linux.cgroup_parent");

  const nameKey = sandboxNameKey(meta);
  const holder = core.sandboxNames.get(nameKey);
  if (holder) {
    throw alreadyExists(
      `pod sandbox name "${nameKey}" is already reserved for pod sandbox "${holder}"`,
    );
  }
  const id = newId();
  core.sandboxNames.set(nameKey, id);

  await using undo = new AsyncDisposableStack();
  undo.defer(() => {
    if (core.sandboxNames.get(nameKey) === id) core.sandboxNames.delete(nameKey);
  });

  return await core.locks.run(id, async () => {
    const filesDir = `${core.config.root}/sandboxes/${id}`;
    const stateDir = `${core.config.state}/sandboxes/${id}`;
    const doc: SandboxDoc = {
      id,
      config: encodeSandboxConfig(config),
      runtimeHandler,
      handler: handler.name,
      ...(userns ? { userns } : {}),
      createdAtNs: nowNs().toString(),
      state: "notready",
      phase: "creating",
      hostNetwork,
      hostIpc,
      pidMode,
      ns: { dir: `${core.config.state}/ns/${id}` },
      files: {
        dir: filesDir,
        hostname: `${filesDir}/hostname`,
        hosts: `${filesDir}/hosts`,
        resolvConf: `${filesDir}/resolv.conf`,
      },
      cgroupParent: cgroupParent || defaultParent(core, id),
      network: { attached: false, ips: [] },
    };
    const sandbox: Sandbox = { doc, config, nameKey };
    const log = core.log.with({ podId: id, pod: `${meta.namespace}/${meta.name}` });

    // 1. The record first, so that recovery can undo a crash in any later step.
    core.sandboxes.set(id, sandbox);
    core.saveSandbox(sandbox);
    undo.defer(() => podTransition(core, sandbox, "discarded"));
    await faultPoint(core, "sandbox-run:after-record");
    // The kubelet creates the pod's first container right after: have its shim running by
    // then (see spare_shims.ts).
    spareForPod(core, id, config.logDirectory, handler);
    undo.defer(() => core.deps.shims.dropSpare(id));
    const checkpoint = () => {
      if (signal?.aborted) throw canceled(`RunPodSandbox for "${nameKey}" was cancelled`);
      core.saveSandbox(sandbox);
    };

    // 2. The pod's files.
    // Both 0700, as their parents (see modes.ts): the pause bundle and /dev/shm live here.
    await mkdirPrivate(filesDir);
    undo.defer(() => Deno.remove(filesDir, { recursive: true }).catch(() => {}));
    await mkdirPrivate(stateDir);
    if (userns) {
      await openToUserns(filesDir, userns.hostId);
      await openToUserns(stateDir, userns.hostId);
    }
    undo.defer(() => Deno.remove(stateDir, { recursive: true }).catch(() => {}));
    // Bind-mounted into every container, whose processes may run as any uid: world-readable.
    const hostname = podHostname(config, hostNetwork);
    await atomicWrite(doc.files.hostname, `${hostname}\n`, { mode: CONTAINER_READABLE_FILE });
    await atomicWrite(
      doc.files.hosts,
      hostNetwork ? await Deno.readFile("/etc/hosts").catch(() => podHosts()) : podHosts(),
      { mode: CONTAINER_READABLE_FILE },
    );
    const dns = resolvConf(config.dnsConfig);
    await atomicWrite(
      doc.files.resolvConf,
      dns ?? await Deno.readFile("/etc/resolv.conf").catch(() => ""),
      { mode: CONTAINER_READABLE_FILE },
    );
    checkpoint();

    // 3. Pinned namespaces: network (unless host), IPC (unless host), UTS (with the network).
    const pinned = await pinNamespaces({
      dir: doc.ns.dir,
      net: !hostNetwork,
      ipc: !hostIpc,
      uts: !hostNetwork,
      hostname,
      sysctls: config.linux?.sysctls ?? {},
      ...(userns ? { userns } : {}),
      ...(signal ? { signal } : {}),
    });
    undo.defer(() => unpinNamespaces(doc.ns.dir));
    doc.ns = { dir: doc.ns.dir, ...pinned };
    checkpoint();
    await faultPoint(core, "sandbox-run:after-pin");

    // 4. /dev/shm of the pod (a tmpfs shared by its containers), unless host IPC.
    if (!hostIpc) {
      doc.shm = { path: `${stateDir}/shm`, mounted: true };
      checkpoint();
      await mountShm(doc.shm.path);
      undo.defer(() => unmountShm(`${stateDir}/shm`));
    }

    // 5. The pod cgroup, when sauropod must create it.
    const owned = core.deps.cgroups.ensureParent(doc.cgroupParent);
    if (owned) {
      doc.ownedCgroup = { path: owned.path, created: [...owned.created] };
      undo.defer(() => core.deps.cgroups.removeParent(owned));
      // Nobody else sets the limits of a pod cgroup sauropod made: the pod-level resources
      // go there (a kubelet-made one already has them from the kubelet).
      writePodLevelResources(core, doc.cgroupParent, config.linux, "config.linux");
    }
    checkpoint();

    // 6. Networking through CNI (the netns exists; DEL must run if ADD may have).
    if (!hostNetwork) {
      doc.network.attached = true;
      checkpoint();
      const req = podNetworkRequest(core, sandbox);
      const result = await core.deps.cni.setUp(req, signal).catch((err) => {
        doc.network.attached = false; // setUp undoes itself on failure
        throw err;
      });
      undo.defer(() => core.deps.cni.tearDown(req));
      doc.network.ips = result.ips;
      checkpoint();
      await faultPoint(core, "sandbox-run:after-cni");
    }

    // 7. The pause container, only for a shared PID namespace.
    if (pidMode === "pod") {
      await startPause(core, sandbox, log, signal);
      undo.defer(() => removePause(core, sandbox, log));
      checkpoint();
    }

    podTransition(core, sandbox, "ready");
    undo.move();
    log.info("pod sandbox ready", {
      ips: doc.network.ips.join(",") || undefined,
      pidMode,
      hostNetwork,
    });
    return id;
  });
}

/** The cgroup parent of a pod for which the kubelet named none. */
function defaultParent(core: RuntimeCore, id: string): string {
  return core.deps.cgroups.driver === "systemd"
    ? `sauropod-pod${id.slice(0, 12)}.slice`
    : `${DEFAULT_PARENT.cgroupfs}/pod${id.slice(0, 12)}`;
}

/** The CNI request of a pod (used again, identically, for DEL). */
export function podNetworkRequest(_core: RuntimeCore, s: Sandbox): PodNetworkRequest {
  const m = s.config.metadata!;
  const dns = s.config.dnsConfig;
  const bandwidth = bandwidthFromAnnotations(s.config.annotations);
  return {
    podId: s.doc.id,
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    netnsPath: s.doc.ns.net ?? "",
    portMappings: portMappingsOf(s.config),
    ...(dns ? { dns: { servers: dns.servers, searches: dns.searches, options: dns.options } } : {}),
    ...(s.doc.cgroupParent ? { cgroupParent: s.doc.cgroupParent } : {}),
    annotations: s.config.annotations,
    ...(bandwidth ? { bandwidth } : {}),
  };
}

/** Wraps errors of a pod operation with the pod's name. */
export function podError(err: unknown, what: string, s: Sandbox): Error {
  const m = s.config.metadata;
  return wrap(err, `${what} pod sandbox "${s.doc.id}" (${m?.namespace}/${m?.name})`);
}
