// test-permissions: --allow-env=LOG_TOKENS,LOG_STREAM
import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import { ContainerConfig } from "../../api/gen/api.ts";
import { isFailedPrecondition, isInvalidArgument, SauropodError } from "../../errors/mod.ts";
import type { Spec } from "../spec.ts";
import {
  applyCdiDevices,
  cdiHostPaths,
  type CdiRegistry,
  cdiRequests,
  parseCdiSpec,
  resolveCdiDevices,
} from "./mod.ts";

const YAML = `
cdiVersion: "0.6.0"
kind: example.com/dev
containerEdits:
  env: [SPEC_LEVEL=1]
devices:
  - name: null0
    containerEdits:
      deviceNodes:
        - path: /dev/example-null
          hostPath: /dev/null
      env: [EXAMPLE=yes]
      mounts:
        - hostPath: /opt/x
          containerPath: /opt/example
          options: [ro, nosuid]
      hooks:
        - hookName: createContainer
          path: /usr/bin/true
          args: ["true", x]
  - name: gpu1
    containerEdits:
      deviceNodes: [{ path: /dev/gpu1, type: c, major: 195, minor: 1, permissions: rw }]
`;

function registry(...specs: [string, string, number][]): CdiRegistry {
  return {
    dirs: ["/etc/cdi", "/var/run/cdi"],
    specs: specs.map(([file, text, priority]) => ({ spec: parseCdiSpec(file, text), priority })),
    broken: [],
  };
}

function baseSpec(): Spec {
  return {
    ociVersion: "1.0.2",
    process: { user: { uid: 0, gid: 0 }, args: ["sh"], cwd: "/", env: ["PATH=/bin", "EXAMPLE=no"] },
    mounts: [{ destination: "/proc", type: "proc", source: "proc" }],
    linux: { resources: { devices: [{ allow: false, access: "rwm" }] } },
  };
}

function code(fn: () => unknown, pred: (e: unknown) => boolean, includes: string): void {
  const err = assertThrows(fn, SauropodError);
  assert(pred(err), `wrong kind: ${err.message}`);
  assert(err.message.includes(includes), `"${err.message}" lacks "${includes}"`);
}

Deno.test("parseCdiSpec() reads YAML and JSON specs", () => {
  const y = parseCdiSpec("/etc/cdi/x.yaml", YAML);
  assertEquals(y.kind, "example.com/dev");
  assertEquals(y.devices.map((d) => d.name), ["null0", "gpu1"]);
  const j = parseCdiSpec(
    "/etc/cdi/x.json",
    JSON.stringify({
      cdiVersion: "1.0.0",
      kind: "a.b/c",
      devices: [{ name: "d", containerEdits: { env: ["A=1"] } }],
    }),
  );
  assertEquals(j.devices[0]!.containerEdits.env, ["A=1"]);
});

Deno.test("parseCdiSpec() refuses malformed and invalid specs naming the file and place", () => {
  const bad: [string, string][] = [
    ["kind: [", "malformed"],
    [
      `cdiVersion: "0.6.0"\nkind: a.b/c\ndevices: [{name: d, containerEdits: {env: [A=1]}, colour: red}]`,
      'unknown field "colour"',
    ],
    [
      `cdiVersion: "9.9.9"\nkind: a.b/c\ndevices: [{name: d, containerEdits: {env: [A=1]}}]`,
      "cdiVersion",
    ],
    [
      `cdiVersion: "0.6.0"\nkind: nokind\ndevices: [{name: d, containerEdits: {env: [A=1]}}]`,
      "spec.kind",
    ],
    [`cdiVersion: "0.6.0"\nkind: a.b/c\ndevices: []`, "no devices"],
    [
      `cdiVersion: "0.6.0"\nkind: a.b/c\ndevices: [{name: d, containerEdits: {env: [A=1]}}, {name: d, containerEdits: {env: [A=1]}}]`,
      "defined twice",
    ],
    [
      `cdiVersion: "0.3.0"\nkind: a.b/c\ndevices: [{name: d, containerEdits: {mounts: [{hostPath: /a, containerPath: /b, type: bind}]}}]`,
      "needs cdiVersion 0.4.0",
    ],
    [
      `cdiVersion: "0.6.0"\nkind: a.b/c\ndevices: [{name: d, containerEdits: {env: ["=x"]}}]`,
      "NAME=VALUE",
    ],
    [
      `cdiVersion: "0.6.0"\nkind: a.b/c\ndevices: [{name: d, containerEdits: {hooks: [{hookName: later, path: /x}]}}]`,
      "hookName",
    ],
    [
      `cdiVersion: "0.6.0"\nkind: a.b/c\ndevices: [{name: d, containerEdits: {deviceNodes: [{path: rel}]}}]`,
      "absolute",
    ],
  ];
  for (const [text, msg] of bad) {
    code(() => parseCdiSpec("/etc/cdi/bad.yaml", text), isFailedPrecondition, msg);
    code(() => parseCdiSpec("/etc/cdi/bad.yaml", text), isFailedPrecondition, "/etc/cdi/bad.yaml");
  }
});

Deno.test("resolveCdiDevices() takes later directories first and refuses ambiguous devices", () => {
  const a =
    `cdiVersion: "0.6.0"\nkind: v.io/c\ndevices: [{name: d, containerEdits: {env: [FROM=a]}}]`;
  const b =
    `cdiVersion: "0.6.0"\nkind: v.io/c\ndevices: [{name: d, containerEdits: {env: [FROM=b]}}]`;
  const r = resolveCdiDevices(registry(["/etc/cdi/a.yaml", a, 0], ["/var/run/cdi/b.yaml", b, 1]), [
    { name: "v.io/c=d", field: "f" },
  ]);
  assertEquals(r.map((d) => d.spec.file), ["/var/run/cdi/b.yaml"]);
  code(
    () =>
      resolveCdiDevices(registry(["/etc/cdi/a.yaml", a, 0], ["/etc/cdi/b.yaml", b, 0]), [
        { name: "v.io/c=d", field: "f" },
      ]),
    isFailedPrecondition,
    '"/etc/cdi/a.yaml" and "/etc/cdi/b.yaml"',
  );
});

Deno.test("resolveCdiDevices() expands =all, refuses unknown devices, bad names and broken specs", () => {
  const reg = registry(["/etc/cdi/x.yaml", YAML, 0]);
  assertEquals(
    resolveCdiDevices(reg, [{ name: "example.com/dev=all", field: "f" }]).map((d) => d.qualified),
    ["example.com/dev=gpu1", "example.com/dev=null0"],
  );
  code(
    () =>
      resolveCdiDevices(reg, [{
        name: "example.com/dev=nope",
        field: "config.CDI_devices[0].name",
      }]),
    isFailedPrecondition,
    'config.CDI_devices[0].name: CDI device "example.com/dev=nope" is not defined',
  );
  code(() => resolveCdiDevices(reg, [{ name: "nope", field: "f" }]), isInvalidArgument, "f:");
  const broken = {
    ...reg,
    broken: [{ file: "/etc/cdi/b.yaml", kind: "other.com/x", error: "E1" }],
  };
  assertEquals(resolveCdiDevices(broken, [{ name: "example.com/dev=gpu1", field: "f" }]).length, 1);
  code(
    () => resolveCdiDevices(broken, [{ name: "other.com/x=1", field: "f" }]),
    isFailedPrecondition,
    "E1",
  );
  const unknownKind = { ...reg, broken: [{ file: "/etc/cdi/c.yaml", error: "E2" }] };
  code(
    () => resolveCdiDevices(unknownKind, [{ name: "example.com/dev=gpu1", field: "f" }]),
    isFailedPrecondition,
    "E2",
  );
});

Deno.test("cdiRequests() takes CDI_devices, then cdi.k8s.io annotations", () => {
  const config = ContainerConfig.fromPartial({
    CDIDevices: [{ name: "a.io/b=1" }],
    annotations: { "cdi.k8s.io/plugin_x": "a.io/b=2, a.io/b=3", "other": "a.io/b=4" },
  });
  assertEquals(cdiRequests(config).map((r) => r.name), ["a.io/b=1", "a.io/b=2", "a.io/b=3"]);
  code(
    () =>
      cdiRequests(ContainerConfig.fromPartial({ annotations: { "cdi.k8s.io/p": "a.io/b=1,," } })),
    isInvalidArgument,
    'config.annotations["cdi.k8s.io/p"]',
  );
});

Deno.test("applyCdiDevices() adds env, device nodes from the host, cgroup rules, mounts, hooks", () => {
  const reg = registry(["/etc/cdi/x.yaml", YAML, 0]);
  const devices = resolveCdiDevices(reg, [{ name: "example.com/dev=all", field: "f" }]);
  assertEquals(cdiHostPaths(devices), { nodes: ["/dev/gpu1", "/dev/null"], mounts: ["/opt/x"] });
  const spec = baseSpec();
  applyCdiDevices(
    spec,
    devices,
    new Map([["/dev/null", { type: "c", major: 1, minor: 3, fileMode: 0o666 }]]),
  );
  assertEquals(spec.process!.env, ["PATH=/bin", "EXAMPLE=yes", "SPEC_LEVEL=1"]);
  assertEquals(spec.linux!.devices, [
    { path: "/dev/gpu1", type: "c", major: 195, minor: 1 },
    { path: "/dev/example-null", type: "c", major: 1, minor: 3, fileMode: 0o666 },
  ]);
  assertEquals(spec.linux!.resources!.devices!.slice(1), [
    { allow: true, type: "c", major: 195, minor: 1, access: "rw" },
    { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
  ]);
  assertEquals(spec.mounts!.at(-1), {
    destination: "/opt/example",
    type: "bind",
    source: "/opt/x",
    options: ["rbind", "ro", "nosuid"],
  });
  assertEquals(spec.hooks, { createContainer: [{ path: "/usr/bin/true", args: ["true", "x"] }] });
});

Deno.test("applyCdiDevices() refuses a missing host node, a type mismatch and netDevices", () => {
  const reg = registry(["/etc/cdi/x.yaml", YAML, 0]);
  const nul = resolveCdiDevices(reg, [{ name: "example.com/dev=null0", field: "f" }]);
  code(() => applyCdiDevices(baseSpec(), nul, new Map()), isFailedPrecondition, '"/dev/null"');
  code(
    () =>
      applyCdiDevices(
        baseSpec(),
        nul,
        new Map([["/dev/null", { type: "other", major: 0, minor: 0, fileMode: 0 }]]),
      ),
    isFailedPrecondition,
    "not a device node",
  );
  const net = registry([
    "/etc/cdi/n.yaml",
    `cdiVersion: "1.1.0"\nkind: v.io/n\ndevices: [{name: d, containerEdits: {netDevices: [{hostInterfaceName: eth9, name: eth1}]}}]`,
    0,
  ]);
  code(
    () =>
      applyCdiDevices(
        baseSpec(),
        resolveCdiDevices(net, [{ name: "v.io/n=d", field: "f" }]),
        new Map(),
      ),
    isFailedPrecondition,
    "netDevices edits are not supported by sauropod",
  );
});
