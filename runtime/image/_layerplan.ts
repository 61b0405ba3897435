/**
 * The pure half of unpacking a layer: for each tar member, decide what to do to the
 * layer's own (initially empty) snapshot directory, or refuse the layer.
 *
 * The layer is unpacked the overlayfs way (OCI `layer.md`, containerd's
 * `OverlayConvertWhiteout`): `.wh.<name>` becomes a 0/0 character device `<name>`,
 * `.wh..wh..opq` marks its directory opaque (`trusted.overlay.opaque=y`).
 *
 * Safety rests on one fact: the snapshot directory starts empty and only this plan writes
 * into it, so every path it creates is known. A member is refused when its name is
 * absolute or climbs with `..`, when any of its parents is a symlink or non-directory
 * created by this layer (a write through a symlink), or when a hardlink names anything
 * but an earlier non-directory member of the same layer.
 *
 * @module
 */
import { invalidArgument } from "../../errors/mod.ts";
import type { TarEntry } from "./_tar.ts";

/** Prefix of a whiteout file (OCI `layer.md`). */
export const WHITEOUT_PREFIX = ".wh.";
/** Prefix of AUFS metadata, never unpacked. */
export const WHITEOUT_META_PREFIX = ".wh..wh.";
/** The opaque-directory marker. */
export const WHITEOUT_OPAQUE = ".wh..wh..opq";

/** What the planner knows of a path it created. */
type Kind = "dir" | "file" | "symlink" | "other" | "whiteout";

/** One step for the executor. Paths are relative to the snapshot root, `""` is the root. */
export type Action =
  /** Apply a directory entry's metadata to the snapshot root itself (`./`). */
  | { op: "root"; entry: TarEntry }
  /** Create a parent directory the archive did not list; attributes come from lower layers. */
  | { op: "implicit-dir"; path: string }
  /**
   * Create `entry` at `path`. `replace` says what this layer already put there and must be
   * removed first; `opaque` asks to mark a directory that replaces a whiteout as opaque.
   */
  | {
    op: "create";
    path: string;
    entry: TarEntry;
    replace: "none" | "non-dir" | "dir";
    opaque: boolean;
    /** For hardlinks: the normalised path of the target. */
    target?: string;
  }
  /** Update metadata of a directory this layer already created (a repeated dir entry). */
  | { op: "update-dir"; path: string; entry: TarEntry }
  /** Create the overlay whiteout (char device 0/0) at `path`. */
  | { op: "whiteout"; path: string }
  /** Mark directory `path` opaque. */
  | { op: "opaque"; path: string };

/**
 * Normalises a member name to `a/b/c` (no leading `./`, no doubled or trailing slashes);
 * `""` is the archive root. Throws for absolute names, `..` components and NUL bytes.
 */
export function normaliseMemberPath(raw: string, what = "member"): string {
  if (raw.includes("\0")) throw invalidArgument(`layer ${what} name contains a NUL byte`);
  if (raw.startsWith("/")) {
    throw invalidArgument(`layer ${what} "${raw}" has an absolute path`);
  }
  const parts: string[] = [];
  for (const p of raw.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") throw invalidArgument(`layer ${what} "${raw}" climbs out with ".."`);
    parts.push(p);
  }
  return parts.join("/");
}

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? "" : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Decides actions for the members of one layer, in archive order. */
export class LayerPlan {
  readonly #known = new Map<string, Kind>([["", "dir"]]);

  /** Paths of directories created so far (explicit or implicit), in creation order. */
  get directories(): string[] {
    return [...this.#known].filter(([p, k]) => k === "dir" && p !== "").map(([p]) => p);
  }

  /** Makes sure every ancestor of `path` is a directory of this layer, planning the missing. */
  #parents(path: string, raw: string, out: Action[]): void {
    const parent = parentOf(path);
    if (parent === "") return;
    let at = 0;
    for (;;) {
      const slash = parent.indexOf("/", at);
      const prefix = slash === -1 ? parent : parent.slice(0, slash);
      const kind = this.#known.get(prefix);
      if (kind === undefined || kind === "whiteout") {
        // A whiteout in the way means "deleted, then recreated as a directory": the new
        // directory replaces the device and hides the lower one.
        out.push({ op: "implicit-dir", path: prefix });
        if (kind === "whiteout") out.push({ op: "opaque", path: prefix });
        this.#known.set(prefix, "dir");
      } else if (kind === "symlink") {
        throw invalidArgument(
          `layer member "${raw}" is written through symlink "${prefix}" of the same layer`,
        );
      } else if (kind !== "dir") {
        throw invalidArgument(`layer member "${raw}" needs "${prefix}" to be a directory`);
      }
      if (slash === -1) return;
      at = slash + 1;
    }
  }

  /** The actions for one member (possibly none: AUFS metadata is skipped). */
  step(entry: TarEntry): Action[] {
    const raw = entry.path;
    const path = normaliseMemberPath(raw);
    const out: Action[] = [];
    if (path === "") {
      if (entry.type !== "dir") {
        throw invalidArgument(`layer member "${raw}" names the root but is not a directory`);
      }
      out.push({ op: "root", entry });
      return out;
    }
    const base = baseOf(path);

    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.#parents(path, raw, out);
      const dir = parentOf(path);
      if (base === WHITEOUT_OPAQUE) {
        out.push({ op: "opaque", path: dir });
        return out;
      }
      if (base.startsWith(WHITEOUT_META_PREFIX)) return out; // AUFS metadata: ignore
      const name = base.slice(WHITEOUT_PREFIX.length);
      if (name === "" || name === "." || name === "..") {
        throw invalidArgument(`layer member "${raw}" is a malformed whiteout`);
      }
      const target = dir === "" ? name : `${dir}/${name}`;
      // Whiteouts hide lower layers only; a same-layer member of that name stays.
      if (this.#known.has(target)) return out;
      this.#known.set(target, "whiteout");
      out.push({ op: "whiteout", path: target });
      return out;
    }
    if (path.split("/").some((p) => p.startsWith(WHITEOUT_META_PREFIX))) {
      return out; // inside an AUFS metadata directory (.wh..wh.plnk/…)
    }

    this.#parents(path, raw, out);
    const existing = this.#known.get(path);

    if (entry.type === "dir") {
      if (existing === "dir") {
        out.push({ op: "update-dir", path, entry });
        return out;
      }
      out.push({
        op: "create",
        path,
        entry,
        replace: existing === undefined ? "none" : "non-dir",
        opaque: existing === "whiteout",
      });
      this.#known.set(path, "dir");
      return out;
    }

    let target: string | undefined;
    if (entry.type === "hardlink") {
      target = normaliseMemberPath(entry.linkname, "hardlink target");
      const kind = this.#known.get(target);
      if (kind === undefined || kind === "whiteout") {
        throw invalidArgument(
          `layer member "${raw}" is a hardlink to "${entry.linkname}", which is not in the layer`,
        );
      }
      if (kind === "dir") {
        throw invalidArgument(`layer member "${raw}" is a hardlink to directory "${target}"`);
      }
      if (target === path) return out; // a link to itself: nothing to do
    }
    out.push({
      op: "create",
      path,
      entry,
      replace: existing === "dir" ? "dir" : existing === undefined ? "none" : "non-dir",
      opaque: false,
      ...(target !== undefined ? { target } : {}),
    });
    this.#known.set(
      path,
      entry.type === "symlink" ? "symlink" : entry.type === "file" ? "file" : "other",
    );
    if (existing === "dir") {
      // Everything this layer put under the replaced directory is gone.
      const prefix = `${path}/`;
      for (const p of [...this.#known.keys()]) if (p.startsWith(prefix)) this.#known.delete(p);
    }
    return out;
  }
}
