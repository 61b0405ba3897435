// test-permissions: --allow-read=.
/**
 * The field walk: every field of `ContainerConfig`, `PodSandboxConfig` and
 * `LinuxContainerResources` in `api/api.proto`, and of every message they hold, must have a
 * row in {@link FIELDS} saying what happens to it:
 *
 * - `takes(file, snippet?)`: it takes effect, and `file` is the test that shows it (the file
 *   must exist and mention the field, as `snippet` or the field's camelCase name);
 * - `refused(kind, says, call)`: it is refused; `call` sets the field and runs the validator
 *   or builder that refuses it, which must fail with `kind` and a message containing `says`;
 * - `inert(why)`: by design it changes nothing the container can see (the reason says why);
 *
 * A field added upstream (the proto is regenerated from cri-api) fails this test until it
 * gets a row; a row for a field that no longer exists fails it too. To change a field's
 * behaviour, change its one row.
 */
import { assert, assertEquals } from "../testing/assert.ts";
import {
  type ContainerConfig,
  type LinuxContainerResources,
  NamespaceMode,
  type PodSandboxConfig,
} from "../api/gen/api.ts";
import { type ErrorKind, SauropodError } from "../errors/mod.ts";
import { validateContainerConfig } from "../cri/runtime/container_create.ts";
import { validatePodConfig } from "../cri/runtime/pod_run.ts";
import { buildContainerSpec, buildSandboxSpec, linuxResourcesFromCri } from "../oci/mod.ts";
import type { NodeFacts, ResourceOptions } from "../oci/mod.ts";
import {
  containerConfig,
  containerInputs,
  type DeepPartial,
  sandboxConfig,
  sandboxInputs,
} from "../oci/_test_fixtures.ts";

type Row =
  | { takes: string; snippet?: string | undefined }
  | { refused: () => unknown; kind: ErrorKind; says: string }
  | { inert: string };

const takes = (file: string, snippet?: string): Row => ({ takes: file, snippet });
const refused = (kind: ErrorKind, says: string, call: () => unknown): Row => ({
  refused: call,
  kind,
  says,
});
const inert = (why: string): Row => ({ inert: why });

/** CreateContainer's checks on a config: the adapter's validator, then the spec builder. */
function container(p: DeepPartial<ContainerConfig>, node: NodeFacts = {}): void {
  const config = containerConfig(p);
  validateContainerConfig(config);
  buildContainerSpec(containerInputs({
    config,
    node: { arch: "x86_64", cgroupVersion: 1, ...node },
    hostPaths: { "/tmp": { kind: "directory", realPath: "/tmp", propagation: "private" } },
  }));
}

/** RunPodSandbox's checks on a pod config: the validator, then the pause spec builder. */
function pod(p: DeepPartial<PodSandboxConfig>, node: NodeFacts = {}): void {
  const config = sandboxConfig(p);
  validatePodConfig(config);
  buildSandboxSpec(sandboxInputs({ config, node: { arch: "x86_64", cgroupVersion: 1, ...node } }));
}

/** The resources mapping, as CreateContainer and UpdateContainerResources use it. */
function resources(p: DeepPartial<LinuxContainerResources>, o: ResourceOptions = {}): void {
  container({ linux: { resources: p } }, {
    ...(o.swapAccounting !== undefined ? { swapAccounting: o.swapAccounting } : {}),
    ...(o.hugetlb !== undefined ? { hugetlb: o.hugetlb } : {}),
    ...(o.cgroupVersion !== undefined ? { cgroupVersion: o.cgroupVersion } : {}),
  });
  linuxResourcesFromCri(containerConfig({ linux: { resources: p } }).linux!.resources, o);
}

const SC = (p: DeepPartial<NonNullable<ContainerConfig["linux"]>["securityContext"]>) =>
  ({ linux: { securityContext: p } }) as DeepPartial<ContainerConfig>;
const PSC = (p: DeepPartial<NonNullable<PodSandboxConfig["linux"]>["securityContext"]>) =>
  ({ linux: { securityContext: p } }) as DeepPartial<PodSandboxConfig>;
const WIN_C = (p: DeepPartial<NonNullable<ContainerConfig["windows"]>>) => () =>
  container({ windows: p });
const WIN_P = (p: DeepPartial<NonNullable<PodSandboxConfig["windows"]>>) => () =>
  pod({ windows: p });
const SELINUX_NODE: NodeFacts = { selinux: true };

/** One row per field, `Message.field` as the proto spells it. */
const FIELDS: Record<string, Row> = {
  // ContainerConfig
  "ContainerConfig.metadata": takes("runtime/ids_test.ts", "name keys join the CRI metadata"),
  "ContainerConfig.image": takes("oci/container_test.ts", "userSpecifiedImage"),
  "ContainerConfig.command": takes("oci/process_test.ts"),
  "ContainerConfig.args": takes("oci/process_test.ts"),
  "ContainerConfig.working_dir": takes("oci/container_test.ts"),
  "ContainerConfig.envs": takes("oci/container_test.ts"),
  "ContainerConfig.mounts": takes("oci/spec_integration_test.ts"),
  "ContainerConfig.devices": takes("oci/devices_test.ts"),
  "ContainerConfig.labels": takes("tests/runtime_test.ts", "labelSelector"),
  "ContainerConfig.annotations": takes("tests/annotations_test.ts"),
  "ContainerConfig.log_path": takes("tests/runtime_test.ts"),
  "ContainerConfig.stdin": takes("tests/streaming_test.ts"),
  "ContainerConfig.stdin_once": takes("tests/streaming_test.ts"),
  "ContainerConfig.tty": takes("tests/streaming_test.ts"),
  "ContainerConfig.linux": takes("oci/container_test.ts"),
  "ContainerConfig.windows": refused(
    "invalid-argument",
    "config.windows: Windows container settings",
    WIN_C({ resources: { cpuCount: 2n } }),
  ),
  "ContainerConfig.CDI_devices": takes("tests/cdi_test.ts", "CDIDevices"),
  "ContainerConfig.stop_signal": takes("tests/stop_signals_test.ts", "stopSignal"),

  // PodSandboxConfig
  "PodSandboxConfig.metadata": takes("runtime/ids_test.ts", "name keys join the CRI metadata"),
  "PodSandboxConfig.hostname": takes("oci/spec_integration_test.ts"),
  "PodSandboxConfig.log_directory": takes("tests/runtime_test.ts"),
  "PodSandboxConfig.dns_config": takes("runtime/pod/files_test.ts", "DNSConfig"),
  "PodSandboxConfig.port_mappings": takes("network/cni_integration_test.ts", "portMappings"),
  "PodSandboxConfig.labels": takes("tests/runtime_test.ts", "labelSelector"),
  "PodSandboxConfig.annotations": takes("tests/annotations_test.ts"),
  "PodSandboxConfig.linux": takes("oci/sandbox_test.ts"),
  "PodSandboxConfig.windows": refused(
    "invalid-argument",
    "config.windows: Windows pod settings",
    WIN_P({ securityContext: { hostProcess: true } }),
  ),

  // LinuxContainerResources (container limits; pod overhead/resources reuse the mapping)
  "LinuxContainerResources.cpu_period": takes("tests/resize_test.ts", "cpuPeriod"),
  "LinuxContainerResources.cpu_quota": takes("tests/resize_test.ts", "cpu.cfs_quota_us"),
  "LinuxContainerResources.cpu_shares": takes("tests/resize_test.ts", "cpu.shares"),
  "LinuxContainerResources.memory_limit_in_bytes": takes("tests/resize_test.ts"),
  "LinuxContainerResources.oom_score_adj": takes("oci/spec_integration_test.ts"),
  "LinuxContainerResources.cpuset_cpus": takes("oci/resources_test.ts"),
  "LinuxContainerResources.cpuset_mems": takes("oci/resources_test.ts"),
  "LinuxContainerResources.hugepage_limits": takes("tests/node/resize_test.ts", "hugetlb.2MB.max"),
  "LinuxContainerResources.unified": takes("tests/node/resize_test.ts", "memory.high"),
  "LinuxContainerResources.memory_swap_limit_in_bytes": takes(
    "tests/resize_test.ts",
    "memory.memsw.limit_in_bytes",
  ),
  "HugepageLimit.page_size": refused(
    "invalid-argument",
    "hugepage_limits[0].page_size",
    () => resources({ hugepageLimits: [{ pageSize: "2 MB", limit: 1n }] }, { hugetlb: true }),
  ),
  "HugepageLimit.limit": refused(
    "invalid-argument",
    "hugepage_limits[0]: a 2MB huge page limit is set but the node has no hugetlb",
    () => resources({ hugepageLimits: [{ pageSize: "2MB", limit: 2097152n }] }, { hugetlb: false }),
  ),

  // Metadata, image, env
  "ContainerMetadata.name": takes("runtime/ids_test.ts", "name keys join the CRI metadata"),
  "ContainerMetadata.attempt": takes("runtime/ids_test.ts"),
  "ImageSpec.image": takes("tests/runtime_test.ts", "image"),
  "ImageSpec.annotations": inert(
    "the image is the one ImageSpec.image names; containerd ignores these here too",
  ),
  "ImageSpec.user_specified_image": takes("oci/container_test.ts", "userSpecifiedImage"),
  "ImageSpec.runtime_handler": inert(
    "one image store serves every runtime handler (KEP-4216 pulls per handler are alpha)",
  ),
  "ImageSpec.image_ref": takes("tests/image_volumes_test.ts", "imageRef"),
  "KeyValue.key": takes("oci/container_test.ts", "envs"),
  "KeyValue.value": takes("oci/container_test.ts", "envs"),

  // Mounts and devices
  "Mount.container_path": takes("oci/mounts_test.ts", "containerPath"),
  "Mount.host_path": takes("oci/mounts_test.ts", "hostPath"),
  "Mount.readonly": takes("oci/mounts_test.ts"),
  "Mount.selinux_relabel": refused(
    "failed-precondition",
    "selinux_relabel: sauropod does not apply SELinux labels",
    () =>
      container({
        mounts: [{ containerPath: "/data", hostPath: "/tmp", selinuxRelabel: true }],
      }, SELINUX_NODE),
  ),
  "Mount.propagation": takes("oci/mounts_test.ts"),
  // Id-mapped mounts: only with the pod's user namespace (refused otherwise, naming the mount).
  "Mount.uidMappings": takes("oci/mounts_test.ts", "uidMappings"),
  "Mount.gidMappings": takes("oci/mounts_test.ts", "gidMappings"),
  // rro where the pod's runtime handler supports it (tests/handlers_test.ts), refused elsewhere.
  "Mount.recursive_read_only": refused(
    "invalid-argument",
    "recursive_read_only",
    () =>
      container({
        mounts: [{
          containerPath: "/data",
          hostPath: "/tmp",
          readonly: true,
          recursiveReadOnly: true,
        }],
      }),
  ),
  "Mount.image": takes("tests/image_volumes_test.ts", "image"),
  "Mount.image_sub_path": takes("tests/image_volumes_test.ts", "imageSubPath"),
  "Mount.mount_options": takes("oci/mounts_test.ts"),
  "Device.container_path": takes("oci/devices_test.ts", "containerPath"),
  "Device.host_path": takes("oci/devices_test.ts", "hostPath"),
  "Device.permissions": takes("oci/devices_test.ts"),
  "CDIDevice.name": takes("tests/cdi_test.ts", "sauropod.test/dev=null0"),
  "IDMapping.host_id": takes("tests/node/userns_test.ts", "hostId"),
  "IDMapping.container_id": takes("tests/node/userns_test.ts", "containerId"),
  "IDMapping.length": takes("tests/node/userns_test.ts", "length"),

  // LinuxContainerConfig and its security context
  "LinuxContainerConfig.resources": takes("tests/resize_test.ts", "resources"),
  "LinuxContainerConfig.security_context": takes("oci/container_test.ts", "securityContext"),
  "LinuxContainerSecurityContext.capabilities": takes("oci/capabilities_test.ts"),
  "LinuxContainerSecurityContext.privileged": takes("oci/container_test.ts"),
  "LinuxContainerSecurityContext.namespace_options": takes(
    "oci/container_test.ts",
    "namespaceOptions",
  ),
  "LinuxContainerSecurityContext.selinux_options": refused(
    "failed-precondition",
    "selinux_options",
    () => container(SC({ selinuxOptions: { type: "container_t" } }), SELINUX_NODE),
  ),
  "LinuxContainerSecurityContext.run_as_user": takes("oci/container_test.ts", "runAsUser"),
  "LinuxContainerSecurityContext.run_as_group": takes("oci/container_test.ts"),
  "LinuxContainerSecurityContext.run_as_username": takes("oci/container_test.ts"),
  "LinuxContainerSecurityContext.readonly_rootfs": takes("oci/spec_integration_test.ts"),
  "LinuxContainerSecurityContext.supplemental_groups": takes("oci/container_test.ts"),
  "LinuxContainerSecurityContext.supplemental_groups_policy": takes("oci/container_test.ts"),
  "LinuxContainerSecurityContext.no_new_privs": takes("oci/spec_integration_test.ts"),
  "LinuxContainerSecurityContext.masked_paths": takes("oci/spec_integration_test.ts"),
  "LinuxContainerSecurityContext.readonly_paths": takes("oci/spec_integration_test.ts"),
  "LinuxContainerSecurityContext.seccomp": takes("oci/seccomp_test.ts", "seccomp"),
  "LinuxContainerSecurityContext.apparmor": takes("tests/node/apparmor_test.ts", "apparmor"),
  "LinuxContainerSecurityContext.apparmor_profile": takes(
    "oci/apparmor_test.ts",
    "apparmorProfile",
  ),
  "LinuxContainerSecurityContext.seccomp_profile_path": takes(
    "oci/seccomp_test.ts",
    "seccompProfilePath",
  ),
  "Capability.add_capabilities": takes("oci/capabilities_test.ts", "addCapabilities"),
  "Capability.drop_capabilities": takes("oci/capabilities_test.ts", "dropCapabilities"),
  "Capability.add_ambient_capabilities": takes("oci/capabilities_test.ts"),
  "NamespaceOption.network": refused(
    "invalid-argument",
    "namespace_options.network: NODE, but the pod sandbox does not use the node's",
    () => container(SC({ namespaceOptions: { network: NamespaceMode.NODE } })),
  ),
  "NamespaceOption.pid": takes("tests/lifecycle_test.ts", "NamespaceMode.POD"),
  "NamespaceOption.ipc": refused(
    "invalid-argument",
    "namespace_options.ipc: CONTAINER is not supported",
    () => container(SC({ namespaceOptions: { ipc: NamespaceMode.CONTAINER } })),
  ),
  "NamespaceOption.target_id": takes("tests/target_pid_test.ts", "targetId"),
  // User namespaces (mode POD with the kubelet's mappings): idmapped layers, crun in the guest.
  "NamespaceOption.userns_options": takes("tests/node/userns_test.ts", "usernsOptions"),
  "UserNamespace.mode": takes("tests/node/userns_test.ts", "mode"),
  "UserNamespace.uids": takes("tests/node/userns_test.ts", "uids"),
  "UserNamespace.gids": takes("tests/node/userns_test.ts", "gids"),
  "SELinuxOption.user": refused(
    "failed-precondition",
    "selinux_options",
    () => container(SC({ selinuxOptions: { user: "system_u" } }), SELINUX_NODE),
  ),
  "SELinuxOption.role": refused(
    "failed-precondition",
    "selinux_options",
    () => container(SC({ selinuxOptions: { role: "system_r" } }), SELINUX_NODE),
  ),
  "SELinuxOption.type": refused(
    "failed-precondition",
    "selinux_options",
    () => container(SC({ selinuxOptions: { type: "spc_t" } }), SELINUX_NODE),
  ),
  "SELinuxOption.level": refused(
    "failed-precondition",
    "selinux_options",
    () => container(SC({ selinuxOptions: { level: "s0:c1,c2" } }), SELINUX_NODE),
  ),
  "Int64Value.value": takes("oci/container_test.ts", "runAsUser"),
  "SecurityProfile.profile_type": takes("oci/seccomp_test.ts", "profileType"),
  "SecurityProfile.localhost_ref": takes("oci/seccomp_test.ts", "localhostRef"),

  // Windows: refused on this Linux node, whichever field is set
  "WindowsContainerConfig.resources": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ resources: { cpuShares: 2n } }),
  ),
  "WindowsContainerConfig.security_context": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ securityContext: { runAsUsername: "x" } }),
  ),
  "WindowsContainerResources.cpu_shares": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ resources: { cpuShares: 2n } }),
  ),
  "WindowsContainerResources.cpu_count": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ resources: { cpuCount: 2n } }),
  ),
  "WindowsContainerResources.cpu_maximum": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ resources: { cpuMaximum: 2n } }),
  ),
  "WindowsContainerResources.memory_limit_in_bytes": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ resources: { memoryLimitInBytes: 2n } }),
  ),
  "WindowsContainerResources.rootfs_size_in_bytes": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ resources: { rootfsSizeInBytes: 2n } }),
  ),
  "WindowsContainerResources.affinity_cpus": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ resources: { affinityCpus: [{ cpuMask: 1n, cpuGroup: 0 }] } }),
  ),
  "WindowsCpuGroupAffinity.cpu_mask": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ resources: { affinityCpus: [{ cpuMask: 1n }] } }),
  ),
  "WindowsCpuGroupAffinity.cpu_group": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ resources: { affinityCpus: [{ cpuGroup: 1 }] } }),
  ),
  "WindowsContainerSecurityContext.run_as_username": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ securityContext: { runAsUsername: "x" } }),
  ),
  "WindowsContainerSecurityContext.credential_spec": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ securityContext: { credentialSpec: "x" } }),
  ),
  "WindowsContainerSecurityContext.host_process": refused(
    "invalid-argument",
    "config.windows",
    WIN_C({ securityContext: { hostProcess: true } }),
  ),
  "WindowsPodSandboxConfig.security_context": refused(
    "invalid-argument",
    "config.windows",
    WIN_P({ securityContext: { hostProcess: true } }),
  ),
  "WindowsSandboxSecurityContext.run_as_username": refused(
    "invalid-argument",
    "config.windows",
    WIN_P({ securityContext: { runAsUsername: "x" } }),
  ),
  "WindowsSandboxSecurityContext.credential_spec": refused(
    "invalid-argument",
    "config.windows",
    WIN_P({ securityContext: { credentialSpec: "x" } }),
  ),
  "WindowsSandboxSecurityContext.host_process": refused(
    "invalid-argument",
    "config.windows",
    WIN_P({ securityContext: { hostProcess: true } }),
  ),
  "WindowsSandboxSecurityContext.namespace_options": refused(
    "invalid-argument",
    "config.windows",
    WIN_P({ securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } }),
  ),
  "WindowsNamespaceOption.network": refused(
    "invalid-argument",
    "config.windows",
    WIN_P({ securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } }),
  ),

  // The pod's metadata, DNS, ports
  "PodSandboxMetadata.name": takes("runtime/ids_test.ts", "name keys join the CRI metadata"),
  "PodSandboxMetadata.uid": takes("runtime/ids_test.ts", "uid"),
  "PodSandboxMetadata.namespace": takes("runtime/ids_test.ts", "namespace"),
  "PodSandboxMetadata.attempt": takes("runtime/ids_test.ts"),
  "DNSConfig.servers": takes("runtime/pod/files_test.ts"),
  "DNSConfig.searches": takes("runtime/pod/files_test.ts"),
  "DNSConfig.options": takes("runtime/pod/files_test.ts", "options"),
  "PortMapping.protocol": takes("network/cni_integration_test.ts"),
  "PortMapping.container_port": takes("network/cni_integration_test.ts"),
  "PortMapping.host_port": takes("network/cni_integration_test.ts"),
  "PortMapping.host_ip": takes("network/cni_integration_test.ts"),

  // LinuxPodSandboxConfig and the pod's security context
  "LinuxPodSandboxConfig.cgroup_parent": takes("tests/node/cgroup_v2_test.ts", "cgroupParent"),
  "LinuxPodSandboxConfig.security_context": takes("oci/sandbox_test.ts", "securityContext"),
  "LinuxPodSandboxConfig.sysctls": takes("oci/spec_integration_test.ts"),
  "LinuxPodSandboxConfig.overhead": takes("tests/resize_test.ts", "overhead"),
  "LinuxPodSandboxConfig.resources": takes("tests/resize_test.ts", "updatePodSandboxResources"),
  "LinuxSandboxSecurityContext.namespace_options": takes("tests/network_test.ts", "NODE"),
  "LinuxSandboxSecurityContext.selinux_options": refused(
    "failed-precondition",
    "selinux_options",
    () => pod(PSC({ selinuxOptions: { type: "spc_t" } }), SELINUX_NODE),
  ),
  "LinuxSandboxSecurityContext.run_as_user": takes("oci/sandbox_test.ts", "runAsUser"),
  "LinuxSandboxSecurityContext.run_as_group": takes("oci/sandbox_test.ts"),
  "LinuxSandboxSecurityContext.readonly_rootfs": takes("oci/sandbox_test.ts", "readonly"),
  "LinuxSandboxSecurityContext.supplemental_groups": takes("oci/sandbox_test.ts", "supplemental"),
  "LinuxSandboxSecurityContext.supplemental_groups_policy": takes(
    "oci/sandbox_test.ts",
    "strict",
  ),
  "LinuxSandboxSecurityContext.privileged": takes("oci/container_test.ts", "not privileged"),
  "LinuxSandboxSecurityContext.seccomp": takes("oci/sandbox_test.ts", "seccomp"),
  "LinuxSandboxSecurityContext.apparmor": takes("oci/sandbox_test.ts", "AppArmor"),
  "LinuxSandboxSecurityContext.seccomp_profile_path": takes(
    "oci/seccomp_test.ts",
    "seccompProfilePath",
  ),
};

/** `Message.field` → type, for every field reachable from the three roots. */
function walkProto(text: string): Map<string, string> {
  const src = text.replace(/\/\/.*$/gm, "");
  const messages = new Map<string, [string, string][]>();
  for (const m of src.matchAll(/\bmessage\s+(\w+)\s*\{/g)) {
    let depth = 1;
    let j = m.index! + m[0].length;
    const start = j;
    while (depth > 0 && j < src.length) {
      if (src[j] === "{") depth++;
      else if (src[j] === "}") depth--;
      j++;
    }
    const body = src.slice(start, j - 1);
    const fields = [
      ...body.matchAll(/(?:repeated\s+|optional\s+)?(map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*\d+/g),
    ].map((f) => [f[1]!, f[2]!] as [string, string]);
    messages.set(m[1]!, fields);
  }
  const out = new Map<string, string>();
  const seen = new Set<string>();
  const queue = ["ContainerConfig", "PodSandboxConfig", "LinuxContainerResources"];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    const fields = messages.get(name);
    assert(fields, `message ${name} is in api/api.proto`);
    for (const [type, field] of fields) {
      out.set(`${name}.${field}`, type);
      if (messages.has(type)) queue.push(type);
    }
  }
  return out;
}

const PROTO = await Deno.readTextFile(new URL("../api/api.proto", import.meta.url));
const camel = (f: string) => f.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

Deno.test("every field of ContainerConfig, PodSandboxConfig and LinuxContainerResources has a row", () => {
  const walked = walkProto(PROTO);
  assert(walked.size > 100, `walked only ${walked.size} fields`);
  const missing = [...walked.keys()].filter((k) => !(k in FIELDS));
  const stale = Object.keys(FIELDS).filter((k) => !walked.has(k));
  assertEquals(missing, [], "fields without a row in FIELDS: take them or refuse them");
  assertEquals(stale, [], "rows for fields the proto no longer has");
});

Deno.test("each field said to take effect names a test that mentions it", async () => {
  const texts = new Map<string, string>();
  const problems: string[] = [];
  for (const [key, row] of Object.entries(FIELDS)) {
    if (!("takes" in row)) continue;
    let text = texts.get(row.takes);
    if (text === undefined) {
      text = await Deno.readTextFile(new URL(`../${row.takes}`, import.meta.url));
      texts.set(row.takes, text);
    }
    const snippet = row.snippet ?? camel(key.split(".")[1]!);
    if (!/Deno\.test\(/.test(text)) problems.push(`${key}: ${row.takes} is not a test file`);
    else if (!text.includes(snippet)) {
      problems.push(`${key}: ${row.takes} does not mention "${snippet}"`);
    }
  }
  assertEquals(problems, []);
});

Deno.test("each field said to be refused is refused with its kind, naming it", () => {
  const problems: string[] = [];
  for (const [key, row] of Object.entries(FIELDS)) {
    if (!("refused" in row)) continue;
    let err: unknown;
    try {
      row.refused();
    } catch (e) {
      err = e;
    }
    if (!(err instanceof SauropodError)) problems.push(`${key}: not refused (${err})`);
    else if (err.kind !== row.kind || !err.message.includes(row.says)) {
      problems.push(`${key}: ${err.kind}: ${err.message}`);
    }
  }
  assertEquals(problems, []);
});
