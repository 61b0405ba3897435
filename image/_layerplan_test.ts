import { assertEquals, assertThrows } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { tarBytes, type TarItem } from "../tests/fixtures/_tar_writer.ts";
import { type Action, LayerPlan, normaliseMemberPath } from "./_layerplan.ts";
import { type TarEntry, TarReader } from "./_tar.ts";

/** Entries exactly as the tar reader yields them from a synthetic archive. */
async function entries(items: TarItem[]): Promise<TarEntry[]> {
  const bytes = await tarBytes(items);
  const r = new TarReader((async function* () {
    yield bytes;
  })());
  const out: TarEntry[] = [];
  for (let e = await r.next(); e; e = await r.next()) out.push(e);
  return out;
}

/** The plan as compact strings: `op path`. */
async function plan(items: TarItem[]): Promise<string[]> {
  const p = new LayerPlan();
  const out: string[] = [];
  for (const e of await entries(items)) {
    for (const a of p.step(e)) out.push(describe(a));
  }
  return out;
}

function describe(a: Action): string {
  switch (a.op) {
    case "create":
      return `create ${a.entry.type} ${a.path}${
        a.replace !== "none" ? ` replace=${a.replace}` : ""
      }${a.opaque ? " opaque" : ""}${a.target ? ` -> ${a.target}` : ""}`;
    case "root":
      return "root";
    default:
      return `${a.op} ${a.path}`;
  }
}

const f = (path: string): TarItem => ({ path, type: "file", data: new Uint8Array() });
const d = (path: string): TarItem => ({ path, type: "dir" });

Deno.test("normaliseMemberPath() strips ./ and slashes, refuses absolute and ..", () => {
  assertEquals(normaliseMemberPath("./a//b/./c/"), "a/b/c");
  assertEquals(normaliseMemberPath("./"), "");
  assertThrows(() => normaliseMemberPath("/etc/passwd"), SauropodError, "absolute path");
  assertThrows(() => normaliseMemberPath("a/../../b"), SauropodError, 'climbs out with ".."');
  assertThrows(() => normaliseMemberPath("a/.."), SauropodError, "..");
  assertThrows(() => normaliseMemberPath("a\0b"), SauropodError, "NUL");
});

Deno.test("LayerPlan creates parents the archive did not list", async () => {
  assertEquals(await plan([f("a/b/c"), d("a/"), f("a/d")]), [
    "implicit-dir a",
    "implicit-dir a/b",
    "create file a/b/c",
    "update-dir a",
    "create file a/d",
  ]);
});

Deno.test("LayerPlan maps whiteouts to overlay devices and opaque markers", async () => {
  assertEquals(
    await plan([d("x/"), f("x/.wh..wh..opq"), f("x/keep"), f(".wh.gone"), f("y/.wh.z")]),
    [
      "create dir x",
      "opaque x",
      "create file x/keep",
      "whiteout gone",
      "implicit-dir y",
      "whiteout y/z",
    ],
  );
});

Deno.test("LayerPlan keeps same-layer files over their whiteouts, and replaces whiteouts", async () => {
  // The OCI spec: a whiteout hides lower layers only.
  assertEquals(await plan([f("a"), f(".wh.a")]), ["create file a"]);
  // Deleted then recreated as a directory in one layer: the new directory hides the old.
  assertEquals(await plan([f(".wh.a"), d("a/"), f(".wh.b"), f("b/c")]), [
    "whiteout a",
    "create dir a replace=non-dir opaque",
    "whiteout b",
    "implicit-dir b",
    "opaque b",
    "create file b/c",
  ]);
});

Deno.test("LayerPlan ignores AUFS metadata", async () => {
  assertEquals(await plan([f(".wh..wh.plnk/123.456"), f(".wh..wh.aufs"), f("ok")]), [
    "create file ok",
  ]);
});

Deno.test("LayerPlan replaces what a later member of the same name overwrites", async () => {
  assertEquals(
    await plan([f("a"), f("a"), d("d/"), f("d/x"), f("d"), f("d/y")]).catch((e) => [
      String(e),
    ]),
    [
      `SauropodError: layer member "d/y" needs "d" to be a directory`,
    ],
  );
  assertEquals(await plan([f("a"), f("a"), d("d/"), f("d/x"), f("d")]), [
    "create file a",
    "create file a replace=non-dir",
    "create dir d",
    "create file d/x",
    "create file d replace=dir",
  ]);
});

Deno.test("LayerPlan accepts hardlinks to earlier members of the layer", async () => {
  assertEquals(
    await plan([
      f("bin/busybox"),
      { path: "bin/sh", type: "hardlink", linkname: "./bin/busybox" },
      { path: "s", type: "symlink", linkname: "/abs/target/is/fine" },
      { path: "h", type: "hardlink", linkname: "s" },
    ]),
    [
      "implicit-dir bin",
      "create file bin/busybox",
      "create hardlink bin/sh -> bin/busybox",
      "create symlink s",
      "create hardlink h -> s",
    ],
  );
});

Deno.test("LayerPlan refuses hostile layers before anything is written", async () => {
  const hostile: [TarItem[], string][] = [
    [[f("../escape")], "climbs out"],
    [[f("a/../../escape")], "climbs out"],
    [[f("/etc/passwd")], "absolute path"],
    [[{ path: "evil", type: "symlink", linkname: "/etc" }, f("evil/passwd")], "through symlink"],
    [[{ path: "evil", type: "symlink", linkname: "." }, f("evil/x/y")], "through symlink"],
    [[{ path: "evil", type: "symlink", linkname: "/" }, f("evil/.wh.x")], "through symlink"],
    [[{ path: "h", type: "hardlink", linkname: "/etc/passwd" }], "absolute path"],
    [[{ path: "h", type: "hardlink", linkname: "../../etc/passwd" }], "climbs out"],
    [[{ path: "h", type: "hardlink", linkname: "not/in/layer" }], "not in the layer"],
    [[d("d/"), { path: "h", type: "hardlink", linkname: "d" }], "to directory"],
    [[f("a"), { path: "h", type: "hardlink", linkname: "a" }, f("h/x")], "to be a directory"],
    [[f(".wh..")], "malformed whiteout"],
    [[d("a/"), f("a/c"), { path: "a", type: "hardlink", linkname: "a/c" }], "replacing"],
    [[{ path: ".", type: "file", data: new Uint8Array() }], "names the root"],
  ];
  for (const [items, msg] of hostile) {
    const p = new LayerPlan();
    const es = await entries(items);
    const err = assertThrows(
      () => {
        for (const e of es) p.step(e);
      },
      SauropodError,
      msg,
    );
    assertEquals(err.kind, "invalid-argument", items.map((i) => i.path).join(","));
  }
});

Deno.test("LayerPlan applies a root entry's metadata to the snapshot root", async () => {
  assertEquals(await plan([{ path: "./", type: "dir", mode: 0o755 }, f("./a")]), [
    "root",
    "create file a",
  ]);
});

Deno.test("LayerPlan.directories() lists the final tree: implicit, listed, not replaced", async () => {
  const p = new LayerPlan();
  const items: TarItem[] = [
    { path: "./", type: "dir", mtime: 7 },
    f("a/b/c"), // a and a/b implicit
    { path: "a/", type: "dir", mtime: 5 }, // a listed after all
    d("gone/"),
    f("gone/x"),
    f("gone"), // the directory and what it held are replaced
    f(".wh.w"),
    f("w/y"), // w replaces this layer's whiteout: the default attributes
  ];
  for (const e of await entries(items)) p.step(e);
  const dirs = [...p.directories()].sort((x, y) => x.path.localeCompare(y.path));
  assertEquals(dirs, [
    { path: "", atime: 7, mtime: 7 },
    { path: "a", atime: 5, mtime: 5 },
    { path: "a/b", implicit: "lowers" },
    { path: "w", implicit: "default" },
  ]);
});

Deno.test("LayerPlan refuses names longer than PATH_MAX", async () => {
  // 4096 bytes: the tar reader's own bound (4096) lets it through; the plan's (the kernel's
  // PATH_MAX less the NUL) does not. A longer name never reaches the plan.
  const long = `${"d/".repeat(2047)}fx`;
  assertEquals(long.length, 4096);
  const p = new LayerPlan();
  const [e] = await entries([f(long)]);
  assertThrows(() => p.step(e!), SauropodError, "longer than 4095 bytes");
});

Deno.test("LayerPlan plans directory replacements in time linear in the layer (L2)", () => {
  // 50 000 files, then 50 000 directories each replaced by a file: a scan of every known
  // name per replacement (the old plan) is 2.5e9 steps, minutes; a tree drops each subtree
  // in one step.
  const p = new LayerPlan();
  const entry = (path: string, type: "file" | "dir"): TarEntry => ({
    path,
    type,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    linkname: "",
    devmajor: 0,
    devminor: 0,
  });
  let actions = 0;
  for (let i = 0; i < 50_000; i++) actions += p.step(entry(`keep/f${i}`, "file")).length;
  for (let i = 0; i < 50_000; i++) {
    actions += p.step(entry(`r${i}/`, "dir")).length;
    actions += p.step(entry(`r${i}/x`, "file")).length;
    actions += p.step(entry(`r${i}`, "file")).length;
  }
  assertEquals(actions, 1 + 50_000 + 150_000);
  assertEquals([...p.directories()].filter((x) => x.path.startsWith("r")), []);
});
