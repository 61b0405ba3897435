/**
 * Builders of CRI configs and spec inputs for this folder's tests (not used by the product).
 *
 * @module
 */
import { ContainerConfig, PodSandboxConfig } from "../api/gen/api.ts";
import { type ErrorKind, SauropodError } from "../errors/mod.ts";
import { assertEquals, assertStringIncludes, assertThrows } from "../testing/assert.ts";
import type { ContainerSpecInputs } from "./container.ts";
import type { SandboxSpecInputs } from "./sandbox.ts";

/** A message shape with every field optional, down to the leaves. */
export type DeepPartial<T> = T extends bigint | string | number | boolean | Uint8Array ? T
  : T extends Array<infer U> ? DeepPartial<U>[]
  : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> }
  : T;

/** A container config named `app` with `p` merged in (shallowly). */
export function containerConfig(p: DeepPartial<ContainerConfig> = {}): ContainerConfig {
  return ContainerConfig.fromPartial(
    {
      metadata: { name: "app" },
      image: { image: "docker.io/library/busybox:1.36" },
      ...p,
    } as ContainerConfig,
  );
}

/** A pod config `default/pod` with `p` merged in (shallowly). */
export function sandboxConfig(p: DeepPartial<PodSandboxConfig> = {}): PodSandboxConfig {
  return PodSandboxConfig.fromPartial(
    {
      metadata: { name: "pod", uid: "0b5f-uid", namespace: "default", attempt: 0 },
      hostname: "pod-host",
      logDirectory: "/var/log/pods/default_pod_0b5f-uid",
      ...p,
    } as PodSandboxConfig,
  );
}

/** A CRI environment variable. */
export const kv = (key: string, value: string): { key: string; value: Uint8Array } => ({
  key,
  value: new TextEncoder().encode(value),
});

/** An image `/etc/passwd`. */
export const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "# a comment line",
  "",
  "app:x:1000:1000:App,,,:/home/app:/bin/sh",
  "broken:x:notanumber:0::/:/bin/sh",
  "web:x:33:33:www-data:/var/www:/usr/sbin/nologin",
].join("\n");

/** An image `/etc/group`. */
export const GROUP = [
  "root:x:0:",
  "daemon:x:1:",
  "www-data:x:33:",
  "app:x:1000:app",
  "extra:x:2000:app,web",
  "audio:x:29:web",
  "video:x:44: app ",
].join("\n");

/** Inputs for a plain container in a pod with pinned namespaces; `over` replaces fields. */
export function containerInputs(over: Partial<ContainerSpecInputs> = {}): ContainerSpecInputs {
  return {
    containerId: "c0ffee",
    sandboxId: "5a4d",
    config: containerConfig(),
    sandboxConfig: sandboxConfig(),
    image: { user: "", env: [], entrypoint: [], cmd: ["sh"], workingDir: "" },
    rootfsPath: "/var/lib/sauropod/containers/c0ffee/rootfs",
    namespaces: {
      network: "/run/sauropod/netns/5a4d",
      ipc: "/run/sauropod/ipcns/5a4d",
      uts: "/run/sauropod/utsns/5a4d",
      pid: "new",
    },
    cgroupsPath: "/kubepods/pod0b5f/c0ffee",
    podMounts: {
      hostname: "/run/sauropod/pods/5a4d/hostname",
      hosts: "/run/sauropod/pods/5a4d/hosts",
      resolvConf: "/run/sauropod/pods/5a4d/resolv.conf",
      shm: "/run/sauropod/pods/5a4d/shm",
    },
    hostPaths: {},
    oomScoreAdj: { restrict: false, agentScore: 0 },
    hostname: "pod-host",
    node: { arch: "x86_64", cgroupVersion: 1 },
    ...over,
  };
}

/** Inputs for a pod's sandbox container; `over` replaces fields. */
export function sandboxInputs(over: Partial<SandboxSpecInputs> = {}): SandboxSpecInputs {
  return {
    sandboxId: "5a4d",
    config: sandboxConfig(),
    image: { user: "", env: [], entrypoint: ["/usr/bin/catatonit", "-P"], cmd: [], workingDir: "" },
    imageName: "registry.k8s.io/pause:3.10",
    rootfsPath: "/var/lib/sauropod/containers/5a4d/rootfs",
    namespaces: {
      network: "/run/sauropod/netns/5a4d",
      ipc: "/run/sauropod/ipcns/5a4d",
      uts: "/run/sauropod/utsns/5a4d",
    },
    cgroupsPath: "/kubepods/pod0b5f/5a4d",
    podMounts: {
      shm: "/run/sauropod/pods/5a4d/shm",
      resolvConf: "/run/sauropod/pods/5a4d/resolv.conf",
    },
    oomScoreAdj: { restrict: false, agentScore: 0 },
    node: { arch: "x86_64", cgroupVersion: 1 },
    ...over,
  };
}

/** Expects `fn` to throw a SauropodError of `kind` whose message includes `msg`. */
export function assertFails(
  fn: () => unknown,
  kind: ErrorKind,
  msg: string,
): SauropodError {
  const err = assertThrows(fn, SauropodError);
  assertEquals(err.kind, kind, `kind of: ${err.message}`);
  assertStringIncludes(err.message, msg);
  return err;
}
