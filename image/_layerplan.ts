/**
 * The pure half of unpacking a layer: for each tar member, decide what to do to the
 * layer's own (initially empty) snapshot directory, or refuse the layer.
 *
 * The layer is unpacked the overlayfs way (OCI `layer.md`, containerd's
 * `OverlayConvertWhiteout`): `.wh.<name>` becomes a 0/0 character device `<name>`,
 * `.wh..wh..opq` marks its directory opaque (`trusted.overlay.opaque=y`).
 *
 * The plan knows every path it creates, because the snapshot directory starts empty and
 * only the plan's actions write into it. It refuses a member whose name is absolute, climbs
 * with `..` or is longer than PATH_MAX, one with a symlink or non-directory of this layer
 * among its parents (a write through a symlink), and a hardlink to anything but an earlier
 * non-directory member of the layer. That is the first line; the second is that the
 * executor (`_unpack.ts`) resolves every name beneath the snapshot root on file
 * descriptors without following symlinks, so a plan bug could fail a layer but never write
 * outside it.
 *
 * What the plan knows is a tree of the layer's names, so replacing a directory drops its
 * whole subtree at once: planning costs O(total name length), whatever the archive does.
 *
 * @module
 */
import { invalidArgument } from "../errors/mod.ts";
import type { TarEntry } from "./_tar.ts";

/** Prefix of a whiteout file (OCI `layer.md`). */
export const WHITEOUT_PREFIX = ".wh.";
/** Prefix of AUFS metadata, never unpacked. */
export const WHITEOUT_META_PREFIX = ".wh..wh.";
/** The opaque-directory marker. */
export const WHITEOUT_OPAQUE = ".wh..wh..opq";

/** What the planner knows of a path it created. */
type Kind = "dir" | "file" | "symlink" | "other" | "whiteout";

/** Longest member name, in bytes, that the kernel resolves (PATH_MAX less the NUL). */
export const MAX_PATH_BYTES = 4095;

/** One name of the layer. */
interface Node {
  kind: Kind;
  /** A directory's entries. */
  children?: Map<string, Node>;
  /**
   * How a directory the archive did not list gets its attributes: copied from the lower
   * layers, or the default (0755 root:root) when it replaces this layer's own whiteout.
   */
  implicit?: "lowers" | "default";
  /** A listed directory's times (restored once nothing more is written into it). */
  atime?: number;
  mtime?: number;
}

/** A directory of the finished layer and what the executor still owes it. */
export interface PlannedDir {
  path: string;
  implicit?: "lowers" | "default";
  atime?: number;
  mtime?: number;
}

/** One step for the executor. Paths are relative to the snapshot root, `""` is the root. */
export type Action =
  /** Apply a directory entry's metadata to the snapshot root itself (`./`). */
  | { op: "root"; entry: TarEntry }
  /**
   * Create a parent directory the archive did not list (attributes follow at the end, see
   * {@link LayerPlan.directories}); `replace` removes this layer's whiteout of that name.
   */
  | { op: "implicit-dir"; path: string; replace: boolean }
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

const utf8 = new TextEncoder();

/**
 * Normalises a member name to `a/b/c` (no leading `./`, no doubled or trailing slashes);
 * `""` is the archive root. Throws for absolute names, `..` components, NUL bytes and
 * names longer than {@link MAX_PATH_BYTES}.
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
  const path = parts.join("/");
  if (path.length > MAX_PATH_BYTES / 3 && utf8.encode(path).length > MAX_PATH_BYTES) {
    throw invalidArgument(
      `layer ${what} "${raw.slice(0, 64)}…" is longer than ${MAX_PATH_BYTES} bytes`,
    );
  }
  return path;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? "" : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** containerd's `latestTime`: a member's atime is never before its mtime. */
function setTimes(node: Node, e: TarEntry): void {
  node.atime = e.atime !== undefined && e.atime > e.mtime ? e.atime : e.mtime;
  node.mtime = e.mtime;
}

function dirNode(implicit?: "lowers" | "default"): Node {
  return implicit ? { kind: "dir", children: new Map(), implicit } : {
    kind: "dir",
    children: new Map(),
  };
}

/** Decides actions for the members of one layer, in archive order. */
export class LayerPlan {
  readonly #root: Node = dirNode();

  /**
   * Every directory of the layer as it stands now (call it after the last member): the
   * implicit ones, whose attributes the executor still sets, and the listed ones, whose
   * times it restores last. The root comes first when it was listed.
   */
  *directories(): Generator<PlannedDir> {
    const stack: [string, Node][] = [["", this.#root]];
    while (stack.length > 0) {
      const [path, node] = stack.pop()!;
      if (node.implicit !== undefined || node.mtime !== undefined) {
        const d: PlannedDir = { path };
        if (node.implicit !== undefined) d.implicit = node.implicit;
        if (node.mtime !== undefined) {
          d.atime = node.atime ?? node.mtime;
          d.mtime = node.mtime;
        }
        yield d;
      }
      for (const [name, child] of node.children ?? []) {
        if (child.kind === "dir") stack.push([path === "" ? name : `${path}/${name}`, child]);
      }
    }
  }

  /**
   * The directory that holds `path`, making sure every ancestor is a directory of this
   * layer and planning the missing ones.
   */
  #parents(path: string, raw: string, out: Action[]): Node {
    let node = this.#root;
    const end = path.lastIndexOf("/");
    let at = 0;
    while (at <= end) {
      const slash = path.indexOf("/", at);
      const name = path.slice(at, slash);
      let child = node.children!.get(name);
      if (child === undefined || child.kind === "whiteout") {
        // A whiteout in the way means "deleted, then recreated as a directory": the new
        // directory replaces the device and hides the lower one.
        const prefix = path.slice(0, slash);
        const whiteout = child !== undefined;
        out.push({ op: "implicit-dir", path: prefix, replace: whiteout });
        if (whiteout) out.push({ op: "opaque", path: prefix });
        child = dirNode(whiteout ? "default" : "lowers");
        node.children!.set(name, child);
      } else if (child.kind === "symlink") {
        throw invalidArgument(
          `layer member "${raw}" is written through symlink "${
            path.slice(0, slash)
          }" of the same layer`,
        );
      } else if (child.kind !== "dir") {
        throw invalidArgument(
          `layer member "${raw}" needs "${path.slice(0, slash)}" to be a directory`,
        );
      }
      node = child;
      at = slash + 1;
    }
    return node;
  }

  /** The node at `path`, without creating anything; undefined when a step is missing. */
  #lookup(path: string): Node | undefined {
    let node: Node | undefined = this.#root;
    if (path === "") return node;
    for (const name of path.split("/")) {
      node = node?.children?.get(name);
      if (node === undefined) return undefined;
    }
    return node;
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
      setTimes(this.#root, entry);
      out.push({ op: "root", entry });
      return out;
    }
    const base = baseOf(path);

    if (base.startsWith(WHITEOUT_PREFIX)) {
      const parent = this.#parents(path, raw, out);
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
      // Whiteouts hide lower layers only; a same-layer member of that name stays.
      if (parent.children!.has(name)) return out;
      parent.children!.set(name, { kind: "whiteout" });
      out.push({ op: "whiteout", path: dir === "" ? name : `${dir}/${name}` });
      return out;
    }
    if (path.includes(WHITEOUT_META_PREFIX)) {
      // Inside an AUFS metadata directory (.wh..wh.plnk/…)?
      if (path.split("/").some((p) => p.startsWith(WHITEOUT_META_PREFIX))) return out;
    }

    const parent = this.#parents(path, raw, out);
    const existing = parent.children!.get(base);

    if (entry.type === "dir") {
      if (existing?.kind === "dir") {
        delete existing.implicit;
        setTimes(existing, entry);
        out.push({ op: "update-dir", path, entry });
        return out;
      }
      out.push({
        op: "create",
        path,
        entry,
        replace: existing === undefined ? "none" : "non-dir",
        opaque: existing?.kind === "whiteout",
      });
      const node = dirNode();
      setTimes(node, entry);
      parent.children!.set(base, node);
      return out;
    }

    let target: string | undefined;
    if (entry.type === "hardlink") {
      target = normaliseMemberPath(entry.linkname, "hardlink target");
      const t = this.#lookup(target);
      if (t === undefined || t.kind === "whiteout") {
        throw invalidArgument(
          `layer member "${raw}" is a hardlink to "${entry.linkname}", which is not in the layer`,
        );
      }
      if (t.kind === "dir") {
        throw invalidArgument(`layer member "${raw}" is a hardlink to directory "${target}"`);
      }
      if (target === path) return out; // a link to itself: nothing to do
      if (existing?.kind === "dir" && target.startsWith(`${path}/`)) {
        throw invalidArgument(
          `layer member "${raw}" is a hardlink to "${entry.linkname}", which replacing "${path}" removes`,
        );
      }
    }
    out.push({
      op: "create",
      path,
      entry,
      replace: existing?.kind === "dir" ? "dir" : existing === undefined ? "none" : "non-dir",
      opaque: false,
      ...(target !== undefined ? { target } : {}),
    });
    // Replacing a directory drops everything this layer put under it, in one step.
    parent.children!.set(base, {
      kind: entry.type === "symlink" ? "symlink" : entry.type === "file" ? "file" : "other",
    });
    return out;
  }
}
