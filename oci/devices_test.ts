import { Device } from "../api/gen/api.ts";
import { assertEquals } from "../testing/assert.ts";
import { containerDevices, type ContainerDevicesRequest, defaultDeviceRules } from "./devices.ts";
import type { HostDevice, HostPaths } from "./host.ts";
import { assertFails } from "./_test_fixtures.ts";

const fuse = { type: "c" as const, major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 };
const sda = { type: "b" as const, major: 8, minor: 0, fileMode: 0o660, uid: 0, gid: 6 };
const HOST: HostPaths = {
  "/dev/fuse": { kind: "device", realPath: "/dev/fuse", device: fuse },
  "/dev/disk/by-id/ata-x": { kind: "device", realPath: "/dev/sda", device: sda },
  "/dev/snd": { kind: "directory", realPath: "/dev/snd" },
  "/dev/snd/timer": {
    kind: "device",
    realPath: "/dev/snd/timer",
    device: { ...fuse, major: 116, minor: 33 },
  },
  "/dev/snd/seq": {
    kind: "device",
    realPath: "/dev/snd/seq",
    device: { ...fuse, major: 116, minor: 1 },
  },
  "/etc/passwd": { kind: "file", realPath: "/etc/passwd" },
};

const build = (devices: Partial<Device>[], over: Partial<ContainerDevicesRequest> = {}) =>
  containerDevices({
    devices: devices.map((d) => Device.fromPartial(d)),
    hostPaths: HOST,
    privileged: false,
    field: "container.devices",
    ...over,
  });

Deno.test("defaultDeviceRules() denies everything, then allows the pseudo-devices", () => {
  const rules = defaultDeviceRules();
  assertEquals(rules[0], { allow: false, access: "rwm" });
  assertEquals(rules.slice(1).every((r) => r.allow && r.type === "c" && r.access === "rwm"), true);
  assertEquals(rules.find((r) => r.major === 1 && r.minor === 3) !== undefined, true); // null
  assertEquals(rules.find((r) => r.major === 136), {
    allow: true,
    type: "c",
    major: 136,
    access: "rwm",
  });
});

Deno.test("containerDevices() adds a node and an allow rule with the given permissions", () => {
  const r = build([{ hostPath: "/dev/fuse", containerPath: "/dev/fuse", permissions: "rw" }]);
  assertEquals(r.devices, [{
    path: "/dev/fuse",
    type: "c",
    major: 10,
    minor: 229,
    fileMode: 0o666,
    uid: 0,
    gid: 0,
  }]);
  assertEquals(r.rules.slice(0, -1), defaultDeviceRules());
  assertEquals(r.rules.at(-1), { allow: true, type: "c", major: 10, minor: 229, access: "rw" });
});

Deno.test("containerDevices() follows a symlinked host path and defaults the container path to it", () => {
  const r = build([{ hostPath: "/dev/disk/by-id/ata-x", permissions: "r" }]);
  assertEquals(r.devices[0]?.path, "/dev/sda");
  assertEquals(r.devices[0]?.type, "b");
  const named = build([{ hostPath: "/dev/disk/by-id/ata-x", containerPath: "/dev/xvda" }]);
  assertEquals(named.devices[0]?.path, "/dev/xvda");
  assertEquals(named.rules.at(-1)?.access, "rwm");
});

Deno.test("containerDevices() of a directory brings every node under it", () => {
  const r = build([{ hostPath: "/dev/snd", containerPath: "/dev/sound", permissions: "rw" }]);
  assertEquals(r.devices.map((d) => [d.path, d.minor]), [["/dev/sound/seq", 1], [
    "/dev/sound/timer",
    33,
  ]]);
  assertEquals(r.rules.length, defaultDeviceRules().length + 2);
});

Deno.test("containerDevices() of a symlinked directory finds nodes keyed under its real path", () => {
  const r = containerDevices({
    devices: [Device.fromPartial({ hostPath: "/dev/audio", containerPath: "/dev/snd" })],
    hostPaths: { ...HOST, "/dev/audio": { kind: "directory", realPath: "/dev/snd" } },
    privileged: false,
    field: "container.devices",
  });
  assertEquals(r.devices.map((d) => d.path), ["/dev/snd/seq", "/dev/snd/timer"]);
});

Deno.test("containerDevices() refuses bad permissions, non-devices and relative paths", () => {
  assertFails(
    () => build([{ hostPath: "/dev/fuse", permissions: "rx" }]),
    "invalid-argument",
    'container.devices[0].permissions: "rx"',
  );
  assertFails(
    () => build([{ hostPath: "/dev/fuse", permissions: "rr" }]),
    "invalid-argument",
    "rr",
  );
  assertFails(
    () => build([{ hostPath: "/etc/passwd" }]),
    "invalid-argument",
    'container.devices[0].host_path: "/etc/passwd" is not a device node',
  );
  assertFails(
    () => build([{ hostPath: "/dev/fuse", containerPath: "dev/fuse" }]),
    "invalid-argument",
    "not an absolute path",
  );
  assertFails(() => build([{ hostPath: "/dev/none" }]), "internal", "no facts");
});

Deno.test("containerDevices() of a privileged container adds host devices and allows all", () => {
  const hostDevices: HostDevice[] = [
    { path: "/dev/fuse", ...fuse },
    { path: "/dev/sda", ...sda },
  ];
  const r = build([{ hostPath: "/dev/fuse", containerPath: "/dev/fuse" }], {
    privileged: true,
    hostDevices,
  });
  assertEquals(r.devices.map((d) => d.path), ["/dev/fuse", "/dev/sda"]);
  assertEquals(r.rules, [{ allow: true, access: "rwm" }]);
});
