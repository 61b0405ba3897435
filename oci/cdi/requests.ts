/**
 * Which CDI devices a container asks for: `ContainerConfig.CDI_devices` first, then the names
 * in `cdi.k8s.io/*` container annotations (comma-separated), as containerd's `WithCDI`
 * merges them (device plugins of kubelets before 1.28 used the annotations).
 *
 * @module
 */
import type { ContainerConfig } from "../../api/gen/api.ts";
import { invalidArgument } from "../../errors/mod.ts";
import type { CdiRequest } from "./registry.ts";

/** Annotation keys with this prefix carry CDI device names. */
export const CDI_ANNOTATION_PREFIX = "cdi.k8s.io/";

/** Most device names one container may ask for. */
export const MAX_CDI_REQUESTS = 128;

/** The device names `config` asks for, each with the field it came from. */
export function cdiRequests(config: ContainerConfig, field = "config"): CdiRequest[] {
  const out: CdiRequest[] = config.CDIDevices.map((d, i) => ({
    name: d.name,
    field: `${field}.CDI_devices[${i}].name`,
  }));
  const keys = Object.keys(config.annotations).filter((k) => k.startsWith(CDI_ANNOTATION_PREFIX))
    .sort();
  for (const key of keys) {
    const value = config.annotations[key] ?? "";
    const names = value.split(",").map((s) => s.trim());
    names.forEach((name, i) => {
      if (name === "") {
        throw invalidArgument(
          `${field}.annotations["${key}"]: entry ${i} of "${value}" is empty`,
        );
      }
      out.push({ name, field: `${field}.annotations["${key}"]` });
    });
  }
  if (out.length > MAX_CDI_REQUESTS) {
    throw invalidArgument(
      `${field}.CDI_devices: ${out.length} CDI devices requested (with cdi.k8s.io/ annotations); ` +
        `at most ${MAX_CDI_REQUESTS}`,
    );
  }
  return out;
}
