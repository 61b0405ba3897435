/**
 * The impure half of CDI: read the spec files of the configured directories (bounded), and
 * `lstat` the host device nodes and mount sources the chosen devices name. The rules live in
 * `oci/cdi/`.
 *
 * The directories are read at each CreateContainer that asks for a device, not watched:
 * a device plugin that just wrote its spec is seen at once, and a pod without devices pays
 * nothing. Only regular files named `*.json` / `*.yaml` directly in a directory are read
 * (as the CDI library: no subdirectories); a missing directory is empty.
 *
 * @module
 */
import type { ContainerConfig } from "../api/gen/api.ts";
import {
  applyCdiDevices,
  type BrokenSpec,
  type CdiHostNode,
  cdiHostPaths,
  type CdiRegistry,
  cdiRequests,
  type CdiSpec,
  parseCdiSpec,
  resolveCdiDevices,
  type ResolvedDevice,
} from "../oci/cdi/mod.ts";
import type { Spec } from "../oci/mod.ts";
import { failedPrecondition, messageOf } from "../errors/mod.ts";
import * as kernfs from "../ffi/kernfs.ts";
import { deviceNumbers } from "../lib/devnum.ts";

/** Largest spec file read (nvidia-ctk's specs for 8 GPUs are ~40 KiB). */
export const MAX_CDI_SPEC_BYTES = 1 << 20;
/** Most spec files read from one directory. */
export const MAX_CDI_SPECS_PER_DIR = 256;

/** Reads the spec files of `dirs` into a registry; failures are recorded per file. */
export async function loadCdiRegistry(dirs: readonly string[]): Promise<CdiRegistry> {
  const reg: CdiRegistry = { dirs, specs: [], broken: [] };
  for (const [priority, dir] of dirs.entries()) {
    let names: string[];
    try {
      names = [];
      for await (const e of Deno.readDir(dir)) {
        if (/\.(json|yaml)$/.test(e.name) && !e.isDirectory) names.push(e.name);
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) continue;
      reg.broken.push({ file: dir, error: `CDI spec directory "${dir}": ${messageOf(err)}` });
      continue;
    }
    names.sort();
    if (names.length > MAX_CDI_SPECS_PER_DIR) {
      reg.broken.push({
        file: dir,
        error: `CDI spec directory "${dir}" holds ${names.length} spec files; at most ` +
          `${MAX_CDI_SPECS_PER_DIR} are read`,
      });
      continue;
    }
    for (const name of names) {
      const file = `${dir.replace(/\/+$/, "")}/${name}`;
      const loaded = await loadSpec(file);
      if ("spec" in loaded) reg.specs.push({ spec: loaded.spec, priority });
      else reg.broken.push(loaded.broken);
    }
  }
  return reg;
}

async function loadSpec(file: string): Promise<{ spec: CdiSpec } | { broken: BrokenSpec }> {
  let text: string;
  try {
    using f = await Deno.open(file, { read: true });
    const st = await f.stat();
    if (!st.isFile) return { broken: { file, error: `CDI spec "${file}" is not a regular file` } };
    if (st.size > MAX_CDI_SPEC_BYTES) {
      return {
        broken: {
          file,
          error: `CDI spec "${file}" is ${st.size} bytes; at most ${MAX_CDI_SPEC_BYTES} are read`,
        },
      };
    }
    const buf = new Uint8Array(MAX_CDI_SPEC_BYTES + 1);
    let n = 0;
    while (n < buf.length) {
      const r = await f.read(buf.subarray(n));
      if (r === null) break;
      n += r;
    }
    if (n > MAX_CDI_SPEC_BYTES) {
      return {
        broken: { file, error: `CDI spec "${file}" grew beyond ${MAX_CDI_SPEC_BYTES} bytes` },
      };
    }
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, n));
  } catch (err) {
    return { broken: { file, error: `CDI spec "${file}" cannot be read: ${messageOf(err)}` } };
  }
  try {
    return { spec: parseCdiSpec(file, text) };
  } catch (err) {
    return { broken: { file, kind: sniffKind(text), error: messageOf(err) } };
  }
}

/**
 * The `kind` a file that failed to parse declares, when a top-level `kind:` line shows it:
 * then only requests for that kind fail because of it.
 */
function sniffKind(text: string): string | undefined {
  const m = text.match(/^\s*"?kind"?\s*:\s*"?([A-Za-z0-9_.\-]+\/[A-Za-z0-9_.\-]+)"?\s*,?\s*$/m);
  return m?.[1];
}

/** The devices `config` asks for, resolved; empty without reading anything when none. */
export async function resolveContainerCdi(
  dirs: readonly string[],
  config: ContainerConfig,
): Promise<ResolvedDevice[]> {
  const requests = cdiRequests(config);
  if (requests.length === 0) return [];
  return resolveCdiDevices(await loadCdiRegistry(dirs), requests);
}

/** Stats what the devices name on the host and applies their edits to `spec`. */
export async function applyContainerCdi(
  spec: Spec,
  devices: readonly ResolvedDevice[],
): Promise<void> {
  if (devices.length === 0) return;
  const paths = cdiHostPaths(devices);
  const nodes = new Map<string, CdiHostNode>();
  for (const p of paths.nodes) {
    let st: Deno.FileInfo;
    try {
      st = await kernfs.lstat(p);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw failedPrecondition(`CDI: cannot stat host device "${p}": ${messageOf(err)}`);
    }
    nodes.set(p, {
      type: st.isCharDevice ? "c" : st.isBlockDevice ? "b" : st.isFifo ? "p" : "other",
      ...deviceNumbers(st.rdev ?? 0),
      fileMode: (st.mode ?? 0) & 0o7777,
    });
  }
  for (const p of paths.mounts) {
    try {
      await kernfs.stat(p);
    } catch (err) {
      const owner = devices.find((d) =>
        [d.spec.containerEdits, d.device.containerEdits].some((e) =>
          e.mounts?.some((m) => m.hostPath === p)
        )
      );
      throw failedPrecondition(
        `CDI device "${owner?.qualified}" of "${owner?.spec.file}": mount source "${p}" ` +
          `cannot be used: ${messageOf(err)}`,
      );
    }
  }
  applyCdiDevices(spec, devices, nodes);
}
