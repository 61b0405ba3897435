/**
 * The note about the machine printed under the table and stored in the JSON: a ratio means
 * little without the CPU, memory, kernel, cgroup layout and versions it was measured on.
 *
 * @module
 */
import { detectLayout } from "../cgroups/mod.ts";
import { VERSION } from "../version.ts";
import type { MachineNote } from "./report.ts";
import { CONTAINERD, RUNC } from "./runtimes.ts";

async function firstLine(cmd: string, args: string[]): Promise<string> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const text = new TextDecoder().decode(o.stdout.length > 0 ? o.stdout : o.stderr);
    return text.split("\n")[0]?.trim() || "unknown";
  } catch {
    return "not installed";
  }
}

/** Debian package version of `pkg` (the CNI plugins print no version of their own). */
function packageVersion(pkg: string): Promise<string> {
  return firstLine("dpkg-query", ["-W", "-f=${Version}", pkg]);
}

/** The 1, 5 and 15 minute load averages. */
export async function loadAverage(): Promise<number[]> {
  const text = await Deno.readTextFile("/proc/loadavg").catch(() => "");
  return text.split(" ").slice(0, 3).map(Number).filter((n) => Number.isFinite(n));
}

/** How the cgroup hierarchies are mounted, in words. */
async function cgroupNote(): Promise<string> {
  try {
    const layout = await detectLayout();
    const v1 = [...layout.v1.keys()].filter((c) => !c.startsWith("name=")).sort();
    const unified = layout.unified
      ? `unified mount with ${
        layout.unified.controllers.length > 0
          ? layout.unified.controllers.join(",")
          : "no controllers"
      }`
      : "no unified mount";
    return layout.mode === "v2"
      ? `v2 (${layout.unified?.controllers.join(",") ?? ""})`
      : `${layout.mode}: v1 ${v1.join(",")}; ${unified}`;
  } catch (err) {
    return `unknown (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** Gathers the machine note. */
export async function machineNote(): Promise<MachineNote> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memKiB = Number(/^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1] ?? "0");
  const [runc, containerd, cni] = await Promise.all([
    firstLine(RUNC, ["--version"]),
    firstLine(CONTAINERD, ["--version"]),
    packageVersion("containernetworking-plugins"),
  ]);
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryBytes: memKiB * 1024,
    kernel: Deno.osRelease(),
    cgroups: await cgroupNote(),
    loadAverage: { start: await loadAverage() },
    versions: {
      sauropod: VERSION,
      deno: Deno.version.deno,
      runc: runc.replace(/^runc version /, ""),
      containerd: containerd.split(" ")[2] ?? containerd,
      "cni-plugins": cni,
    },
  };
}
