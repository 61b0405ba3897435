/**
 * What DEL needs, kept per pod: the network config as it was at ADD, the arguments, and the
 * final result (the spec's "runtime must store the returned result persistently").
 *
 * The entry is written *before* the first plugin runs (state `adding`) and completed after
 * the last (state `added`), so an agent that dies halfway through ADD still knows, on
 * restart, which config to DEL with. Writes are `lib/fs.ts`'s atomic writes.
 *
 * @module
 */
import { internal, wrap } from "../errors/mod.ts";
import { atomicWrite, syncDir } from "../lib/fs.ts";
import type { PluginConf } from "./_conf.ts";
import type { CapabilityArgs, CniArgs } from "./_invoke.ts";

const KIND = "sauropod.cni.attachment/v1";

/** One pod's attachment record. */
export interface Attachment {
  readonly podId: string;
  readonly state: "adding" | "added";
  readonly network: string;
  readonly cniVersion: string;
  /** The plugins run at ADD, in order (with the implicit loopback, if one was added). */
  readonly plugins: readonly PluginConf[];
  /** The config file they came from (for messages only). */
  readonly source: string;
  readonly ifName: string;
  readonly netnsPath: string;
  readonly args: CniArgs;
  readonly caps: CapabilityArgs;
  /** The final ADD result, verbatim; absent while `adding`. */
  readonly result?: unknown;
}

/** The per-pod attachment records in one directory. */
export class AttachmentCache {
  readonly #dir: string;

  /** Keeps records in `dir` (created on first write). */
  constructor(dir: string) {
    this.#dir = dir;
  }

  #path(podId: string): string {
    return `${this.#dir}/${podId}.json`;
  }

  /**
   * The record of `podId`, `undefined` when there is none, or `"corrupt"` when a file
   * exists but cannot be read back (then the caller falls back to the current config).
   */
  async read(podId: string): Promise<Attachment | undefined | "corrupt"> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#path(podId));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return undefined;
      throw wrap(err, `cannot read CNI attachment record of pod "${podId}"`);
    }
    try {
      const raw = JSON.parse(text) as Record<string, unknown>;
      if (raw["kind"] !== KIND || raw["podId"] !== podId || !Array.isArray(raw["plugins"])) {
        return "corrupt";
      }
      const { kind: _kind, ...entry } = raw;
      return entry as unknown as Attachment;
    } catch {
      return "corrupt";
    }
  }

  /** Stores `entry` durably, replacing any earlier record of the pod. */
  async write(entry: Attachment): Promise<void> {
    try {
      await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
      await atomicWrite(this.#path(entry.podId), JSON.stringify({ kind: KIND, ...entry }));
    } catch (err) {
      throw wrap(err, `cannot store CNI attachment record of pod "${entry.podId}"`);
    }
  }

  /** Forgets `podId`; nothing happens when there is no record. */
  async remove(podId: string): Promise<void> {
    try {
      await Deno.remove(this.#path(podId));
      await syncDir(this.#dir);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      throw wrap(err, `cannot remove CNI attachment record of pod "${podId}"`);
    }
  }

  /** The pods that have a record (attached, or attaching when the agent stopped). */
  async list(): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        if (e.isFile && e.name.endsWith(".json") && !e.name.startsWith(".")) {
          out.push(e.name.slice(0, -".json".length));
        }
      }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return [];
      throw internal(`cannot list CNI attachment records in ${this.#dir}`, { cause: err });
    }
    return out.sort();
  }
}
