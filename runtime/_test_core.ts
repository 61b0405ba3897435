/**
 * A runtime core over fakes of its ports (`ports.ts`), for unit tests of the operations'
 * failure and undo paths without root, runc or a registry: a scratch root under /tmp, an
 * in-memory store, an image service that "mounts" by making a folder, shims that play a
 * container's life in memory, and a ready host-network pod to create containers in.
 * Every call the operations make is recorded, and any of them can be made to fail.
 *
 * @module
 */
import { HandlerSet } from "./handlers.ts";
import { ContainerConfig, type ContainerEventResponse, PodSandboxConfig } from "../api/gen/api.ts";
import { defaultConfig } from "../config/mod.ts";
import { nullLogger } from "../log/mod.ts";
import { failedPrecondition, notFound, unavailable } from "../errors/mod.ts";
import { nowNs } from "../lib/clock.ts";
import type { ImageRecord } from "../image/mod.ts";
import type {
  ExecOptions,
  ExecSyncOptions,
  ExecSyncResult,
  ExitRecord,
  ShimCreateOptions,
  ShimHandle,
  ShimState,
  StdioSession,
} from "../shim/client/mod.ts";
import type { RuntimeSpec } from "../shim/protocol.ts";
import type { RecordKind, StoredRecord } from "../store/mod.ts";
import type { PodNetworkResult } from "../network/mod.ts";
import type { AppArmorPort } from "../lsm/mod.ts";
import type { AppArmorRequest } from "../oci/mod.ts";
import { RuntimeCore } from "./core.ts";
import { encodeSandboxConfig, type Sandbox } from "./records.ts";
// The fakes match the ports structurally (RuntimeCore's deps check them).
import type { CgroupPort } from "./ports.ts";

/** Names an operation may be made to fail at. */
export type FailAt =
  | "mount"
  | "volume"
  | "unmount"
  | "shim-create"
  | "shim-start"
  | "shim-delete"
  | "cleanup"
  | "store-put";

/** An in-memory metadata store. */
export class FakeStore {
  readonly records = { sandbox: new Map<string, unknown>(), container: new Map<string, unknown>() };
  failPut = false;
  put<T>(kind: RecordKind, rec: StoredRecord<T>): void {
    if (this.failPut) throw new Error("disk full");
    this.records[kind].set(rec.id, structuredClone(rec));
  }
  delete(kind: RecordKind, id: string): void {
    this.records[kind].delete(id);
  }
  all<T>(kind: RecordKind): StoredRecord<T>[] {
    return [...this.records[kind].values()].map((r) => structuredClone(r) as StoredRecord<T>);
  }
  close(): void {}
}

/** A busybox-like image, present. */
export const IMAGE: ImageRecord = {
  id: `sha256:${"b".repeat(64)}`,
  repoTags: ["example.test/busybox:latest"],
  repoDigests: [`example.test/busybox@sha256:${"d".repeat(64)}`],
  size: 1,
  config: {
    user: "",
    env: ["PATH=/bin"],
    entrypoint: [],
    cmd: ["sh"],
    workingDir: "",
    stopSignal: "",
    volumes: [],
    labels: {},
    exposedPorts: [],
  },
  chainIds: [`sha256:${"c".repeat(64)}`],
  pinned: false,
  manifestDigest: `sha256:${"d".repeat(64)}`,
  pulledAtNs: 1n,
};

/** Images by name; a mount is a folder with an /etc/passwd. */
export class FakeImages {
  readonly mounted = new Map<string, string>();
  /** Image volumes mounted (their paths). */
  readonly volumes = new Set<string>();
  readonly calls: string[] = [];
  readonly fail: Set<FailAt>;
  constructor(fail: Set<FailAt>) {
    this.fail = fail;
  }
  resolve(ref: string): ImageRecord | undefined {
    return ref === IMAGE.repoTags[0] || ref === IMAGE.id ? IMAGE : undefined;
  }
  pull(ref: string): Promise<ImageRecord> {
    return Promise.reject(notFound(`image "${ref}" is not in the fake registry`));
  }
  async mountRootfs(
    id: string,
    _image: ImageRecord,
    target: string,
  ): Promise<{ upperDir: string }> {
    this.calls.push(`mount ${id}`);
    if (this.fail.has("mount")) throw new Error("overlay mount failed");
    await Deno.mkdir(`${target}/etc`, { recursive: true });
    await Deno.writeTextFile(`${target}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
    this.mounted.set(id, target);
    return { upperDir: `${target}.upper` };
  }
  unmountRootfs(id: string, _target: string): Promise<void> {
    this.calls.push(`unmount ${id}`);
    if (this.fail.has("unmount")) return Promise.reject(new Error("target is busy"));
    this.mounted.delete(id);
    return Promise.resolve();
  }
  mountVolume(_image: ImageRecord, target: string, _subPath: string, _field: string): void {
    this.calls.push(`mount volume ${target}`);
    if (this.fail.has("volume")) throw new Error("image volume mount failed");
    this.volumes.add(target);
  }
  unmountVolumes(dir: string): Promise<void> {
    this.calls.push(`unmount volumes ${dir}`);
    for (const v of this.volumes) if (v.startsWith(`${dir}/`)) this.volumes.delete(v);
    return Promise.resolve();
  }
  setInUse(): void {}
}

/** A node without AppArmor: no profile for RuntimeDefault, Localhost refused (as lsm/'s). */
export class FakeAppArmor implements AppArmorPort {
  readonly facts = { enabled: false, reason: "not on a fake node" };
  profileFor(req: AppArmorRequest): Promise<string | undefined> {
    if (req.kind !== "localhost") return Promise.resolve(undefined);
    return Promise.reject(failedPrecondition(`${req.field}: AppArmor is not enabled`));
  }
  info(): Record<string, unknown> {
    return { ...this.facts };
  }
}

/** A shim playing its container's life in memory. */
export class FakeShim implements ShimHandle {
  readonly id: string;
  readonly initPid: number;
  readonly shimPid = 4242;
  status: ShimState["status"] = "created";
  deleted = false;
  closed = false;
  readonly #exit = Promise.withResolvers<ExitRecord>();
  readonly #shims: FakeShims;
  #exitRecord: ExitRecord | undefined;

  constructor(id: string, pid: number, shims: FakeShims) {
    this.id = id;
    this.initPid = pid;
    this.#shims = shims;
  }
  start(): Promise<{ startedAtNs: bigint }> {
    if (this.#shims.fail.has("shim-start")) {
      return Promise.reject(unavailable("runc start: exec format error"));
    }
    this.status = "running";
    return Promise.resolve({ startedAtNs: nowNs() });
  }
  /** The container's process ends with `exitCode`. */
  exit(exitCode: number, oomKilled = false): void {
    if (this.status === "stopped") return;
    this.status = "stopped";
    this.#exitRecord = { exitCode, exitedAtNs: nowNs(), oomKilled };
    this.#exit.resolve(this.#exitRecord);
  }
  /** The shim process dies. */
  die(): void {
    this.#exit.resolve({ exitCode: 255, exitedAtNs: nowNs(), oomKilled: false, reason: "gone" });
  }
  kill(signal: number): Promise<void> {
    this.exit(128 + signal);
    return Promise.resolve();
  }
  state(): Promise<ShimState> {
    return Promise.resolve({
      status: this.status,
      pid: this.initPid,
      ...(this.#exitRecord ? { exit: this.#exitRecord } : {}),
    });
  }
  wait(): Promise<ExitRecord> {
    return this.#exit.promise;
  }
  execSync(_o: ExecSyncOptions): Promise<ExecSyncResult> {
    return Promise.reject(new Error("not faked"));
  }
  exec(_o: ExecOptions): Promise<StdioSession> {
    return Promise.reject(new Error("not faked"));
  }
  attach(): Promise<StdioSession> {
    return Promise.reject(new Error("not faked"));
  }
  resize(): Promise<void> {
    return Promise.resolve();
  }
  reopenLog(): Promise<void> {
    return Promise.resolve();
  }
  update(): Promise<void> {
    return Promise.resolve();
  }
  pause(): Promise<void> {
    return Promise.resolve();
  }
  resume(): Promise<void> {
    return Promise.resolve();
  }
  checkpoint(): Promise<void> {
    return Promise.reject(new Error("not faked"));
  }
  delete(): Promise<void> {
    if (this.#shims.fail.has("shim-delete")) return Promise.reject(new Error("runc delete failed"));
    this.exit(137);
    this.deleted = true;
    this.#shims.live.delete(this.id);
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
}

/** Shims by container id. */
export class FakeShims {
  /** Shims whose process runs (create gave them, reconnect finds them). */
  readonly live = new Map<string, FakeShim>();
  /** Exit records left by shims that are gone. */
  readonly exits = new Map<string, ExitRecord>();
  /** Containers the runtime knows without a shim (orphans). */
  readonly runtimeOnly = new Set<string>();
  readonly cleaned: string[] = [];
  readonly spares = new Map<string, string>();
  readonly fail: Set<FailAt>;
  #pid = 1000;
  constructor(fail: Set<FailAt>) {
    this.fail = fail;
  }
  async create(o: ShimCreateOptions): Promise<ShimHandle> {
    if (this.fail.has("shim-create")) {
      // As the real one: the bundle's rejection aborts it; otherwise runc's error.
      await o.bundleReady;
      throw new Error("runc create: no such file or directory");
    }
    await o.bundleReady;
    const shim = new FakeShim(o.id, ++this.#pid, this);
    this.live.set(o.id, shim);
    return shim;
  }
  reconnect(id: string): Promise<ShimHandle | undefined> {
    return Promise.resolve(this.live.get(id));
  }
  cleanup(id: string, _runtime: RuntimeSpec): Promise<void> {
    this.cleaned.push(id);
    if (this.fail.has("cleanup")) return Promise.reject(new Error("shim survived SIGKILL"));
    this.live.get(id)?.exit(137);
    this.live.delete(id);
    this.exits.delete(id);
    this.runtimeOnly.delete(id);
    return Promise.resolve();
  }
  lastExit(id: string): Promise<ExitRecord | undefined> {
    return Promise.resolve(this.exits.get(id));
  }
  ids(): Promise<string[]> {
    return Promise.resolve([...new Set([...this.live.keys(), ...this.exits.keys()])].sort());
  }
  runtimeIds(): Promise<string[]> {
    return Promise.resolve([...new Set([...this.live.keys(), ...this.runtimeOnly])].sort());
  }
  prespawn(key: string, o: { id: string }): void {
    this.spares.set(key, o.id);
  }
  takeSpare(key: string): string | undefined {
    const id = this.spares.get(key);
    this.spares.delete(key);
    return id;
  }
  moveSpare(): boolean {
    return false;
  }
  dropSpare(key: string): Promise<void> {
    this.spares.delete(key);
    return Promise.resolve();
  }
  dropSpares(): Promise<void> {
    this.spares.clear();
    return Promise.resolve();
  }
}

class FakeCni {
  setUp(): Promise<PodNetworkResult> {
    return Promise.reject(new Error("the fake core runs host-network pods only"));
  }
  tearDown(): Promise<void> {
    return Promise.resolve();
  }
}

const CGROUPS: CgroupPort = {
  driver: "cgroupfs",
  validateParent: () => {},
  cgroupsPath: (parent, id) => `${parent}/${id}`,
  ensureParent: () => undefined,
  memoryUsage: () => undefined,
  writePodLimits: () => {},
  writeContainerLimits: () => {},
  removeParent: () => {},
};

/** A runtime core over fakes, with one ready pod; dispose it to remove its scratch root. */
export interface FakeWorld extends AsyncDisposable {
  core: RuntimeCore;
  /** The agent restarts: a new core over the same store, images and shims (not yet recovered). */
  restart(): RuntimeCore;
  store: FakeStore;
  images: FakeImages;
  shims: FakeShims;
  /** Make the named step fail from now on. */
  fail: Set<FailAt>;
  /** The events published so far. */
  events: ContainerEventResponse[];
  /** The ready pod. */
  pod: Sandbox;
  dir: string;
}

/** A fresh world. */
export async function fakeWorld(): Promise<FakeWorld> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-core-" });
  const config = defaultConfig();
  config.root = `${dir}/root`;
  config.state = `${dir}/state`;
  config.runtime.root = `${dir}/state/runc`;
  config.runtime.podLogsDir = "";
  const fail = new Set<FailAt>();
  const store = new FakeStore();
  const images = new FakeImages(fail);
  const shims = new FakeShims(fail);
  const deps = {
    config,
    logger: nullLogger,
    store,
    images,
    shims,
    cni: new FakeCni(),
    cgroups: CGROUPS,
    handlers: new HandlerSet([{
      name: "runc",
      binary: "/usr/sbin/runc",
      root: config.runtime.root,
      options: [],
      podAnnotations: [],
      containerAnnotations: [],
      features: { recursiveReadOnlyMounts: false, userNamespaces: false },
      probe: { version: "runc 1.1.5", usable: true, source: "none", notes: [] },
    }], "runc"),
    oom: { restrict: false, agentScore: 0 },
    agentCapabilities: [],
    node: {
      cgroupVersion: 1 as const,
      swapAccounting: false,
      hugetlb: false,
      recursiveReadOnlyMounts: false,
      arch: "x86_64",
      selinux: false,
    },
    apparmor: new FakeAppArmor(),
  };
  const events: ContainerEventResponse[] = [];
  const subs: { close(): void }[] = [];
  const listen = (core: RuntimeCore) => {
    const sub = core.events.subscribe();
    subs.push(sub);
    void (async () => {
      for await (const e of sub) events.push(e);
    })();
    return core;
  };
  const core = listen(new RuntimeCore(deps));
  const pod = readyPod(core, dir);
  const world: FakeWorld = {
    core,
    restart() {
      world.core = listen(new RuntimeCore(deps));
      return world.core;
    },
    store,
    images,
    shims,
    fail,
    events,
    pod,
    dir,
    async [Symbol.asyncDispose]() {
      for (const sub of subs) sub.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  return world;
}

/** A ready host-network pod, as RunPodSandbox leaves one (its namespaces are the node's). */
function readyPod(core: RuntimeCore, dir: string): Sandbox {
  const config = PodSandboxConfig.fromPartial({
    metadata: { name: "pod", namespace: "ns", uid: "uid-1", attempt: 0 },
    hostname: "pod",
    linux: { securityContext: { namespaceOptions: { network: 2, ipc: 2 } } },
  });
  const id = "a".repeat(64);
  const files = `${dir}/root/sandboxes/${id}`;
  const s: Sandbox = {
    nameKey: "pod_ns_uid-1_0",
    config,
    doc: {
      id,
      config: encodeSandboxConfig(config),
      runtimeHandler: "",
      createdAtNs: nowNs().toString(),
      state: "ready",
      phase: "ready",
      hostNetwork: true,
      hostIpc: true,
      pidMode: "container",
      ns: { dir: `${dir}/state/ns/${id}` },
      files: {
        dir: files,
        hostname: `${files}/hostname`,
        hosts: `${files}/hosts`,
        resolvConf: `${files}/resolv.conf`,
      },
      cgroupParent: "/sauropod-test/pod",
      network: { attached: false, ips: [] },
    },
  };
  core.sandboxes.set(id, s);
  core.sandboxNames.set(s.nameKey, id);
  core.saveSandbox(s);
  return s;
}

/** A container config for `name` running the fake image. */
export function containerConfig(name: string): ContainerConfig {
  return ContainerConfig.fromPartial({
    metadata: { name, attempt: 0 },
    image: { image: IMAGE.repoTags[0]! },
    command: ["sleep", "1000"],
  });
}

/** Lets the event bus deliver what was published. */
export function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}
