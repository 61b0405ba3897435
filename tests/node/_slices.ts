/**
 * The kubelet's side of the systemd cgroup driver, for tests: the QoS and pod slices a
 * kubelet with `cgroupDriver: systemd` creates before it asks the runtime for a pod.
 *
 * The kubelet creates them through libcontainer's systemd manager, which starts a
 * transient slice over D-Bus (`StartTransientUnit`) with `Wants=` on its parent slice,
 * accounting on, and `DefaultDependencies=no`; that is what {@link kubeletSlices} does, with
 * `busctl`. The pod's `cgroup_parent` is the kubelet's expanded form
 * (`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice`, the uid's
 * dashes escaped to underscores because a dash separates slice levels).
 *
 * @module
 */
import { eventually } from "../harness/pods.ts";
import { run, sh, unitProps } from "./_node.ts";

/** A pod's slices; disposing stops the slices it started (never ones that were there). */
export interface KubeletSlices extends AsyncDisposable {
  /** `kubepods-burstable-pod<uid>.slice`. */
  podSlice: string;
  /** The `cgroup_parent` the kubelet sends: the pod slice's cgroup path. */
  cgroupParent: string;
}

/** The properties libcontainer's systemd manager gives a slice it creates, as busctl args. */
function sliceProperties(parent: string, description: string): string[] {
  const props: [string, string, ...string[]][] = [
    ["Description", "s", description],
    ["Wants", "as", "1", parent],
    ["MemoryAccounting", "b", "true"],
    ["CPUAccounting", "b", "true"],
    ["IOAccounting", "b", "true"],
    ["TasksAccounting", "b", "true"],
    ["DefaultDependencies", "b", "false"],
  ];
  return [String(props.length), ...props.flat()];
}

async function startSlice(name: string, parent: string): Promise<void> {
  await sh("busctl", [
    // "-.slice" would read as an option.
    "--",
    "call",
    "org.freedesktop.systemd1",
    "/org/freedesktop/systemd1",
    "org.freedesktop.systemd1.Manager",
    "StartTransientUnit",
    "ssa(sv)a(sa(sv))",
    name,
    "fail",
    ...sliceProperties(parent, `libcontainer container ${name}`),
    "0",
  ]);
  await eventually(`${name} to become active`, async () => {
    const p = await unitProps(name, ["ActiveState"]);
    return p.ActiveState === "active" ? true : undefined;
  }, 30_000);
}

/**
 * Starts `kubepods.slice`, `kubepods-burstable.slice` and the pod's slice for a pod with
 * `uid`, the ones missing, as the kubelet does.
 */
export async function kubeletSlices(uid: string): Promise<KubeletSlices> {
  const podSlice = `kubepods-burstable-pod${uid.replaceAll("-", "_")}.slice`;
  const chain: [string, string][] = [
    ["kubepods.slice", "-.slice"],
    ["kubepods-burstable.slice", "kubepods.slice"],
    [podSlice, "kubepods-burstable.slice"],
  ];
  const started: string[] = [];
  const stop = async () => {
    for (const name of started.splice(0).reverse()) {
      await run("systemctl", ["stop", name]);
    }
  };
  try {
    for (const [name, parent] of chain) {
      if ((await unitProps(name, ["ActiveState"])).ActiveState === "active") continue;
      await startSlice(name, parent);
      started.push(name);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    podSlice,
    cgroupParent: `/kubepods.slice/kubepods-burstable.slice/${podSlice}`,
    [Symbol.asyncDispose]: stop,
  };
}
