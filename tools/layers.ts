// deno-lint-ignore-file no-console
/**
 * Keeps the layers visible in the folders: imports point one way (the floors are drawn
 * above {@link ALLOWED}), and no module imports itself through a cycle.
 *
 * A layer is a path in {@link ALLOWED}: a folder, a subfolder or a single file, matched by
 * the longest prefix, so a subfolder can sit on another floor than its parent. A file in no
 * layer and not free is a problem (a new folder must be given its floor). `main.ts`,
 * `app/`, `tests/`, `bench/`, `tools/` and `testing/` may import anything. Tests, benches
 * and test helpers (`*_test.ts`, `*_bench.ts`, `_test_*.ts`, anything under a `testing/`
 * folder) may also import test helpers and `tests/`; production code may not.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

// layers:begin
//
//   7  app/ (free: it wires everything)
//   6  cri/  streaming/
//   5  runtime/
//   4  shim/client/  shim/server/
//   3  cgroups/  oci/  lsm/ (on oci/)  image/  checkpoint/ (on image/)  network/  store/
//      shim/protocol.ts
//   2  lib/ (on ffi/)  ffi/  config/ (on lib/)  metrics/ (on lib/, ffi/; app/ alone uses it)
//   1  api/  errors/  log/
//
// Which layers each layer may import from (besides itself). `api/` is the CRI's proto and
// the code generated from it: the vocabulary, at the bottom with the other leaves.
const ALLOWED: Record<string, string[]> = {
  api: [],
  errors: [],
  log: [],
  ffi: ["errors", "log"],
  config: ["lib", "errors", "log"],
  metrics: ["lib", "ffi", "errors", "log"],
  lib: ["ffi", "errors", "log"],
  cgroups: ["lib", "ffi", "config", "errors", "log"],
  oci: ["api", "lib", "errors", "log"],
  lsm: ["oci", "ffi", "errors", "log"],
  store: ["lib", "errors", "log"],
  image: ["lib", "ffi", "config", "errors", "log"],
  network: ["lib", "ffi", "config", "errors", "log"],
  checkpoint: ["image", "lib", "ffi", "config", "errors", "log"],
  "shim/protocol.ts": ["errors"],
  shim: ["shim/protocol.ts", "errors"],
  "shim/server": ["shim/protocol.ts", "cgroups", "lib", "ffi", "errors", "log"],
  "shim/client": ["shim/protocol.ts", "shim", "lib", "ffi", "config", "errors", "log"],
  runtime: [
    "api",
    "shim/client",
    "shim/protocol.ts",
    "shim",
    "cgroups",
    "oci",
    "lsm",
    "image",
    "checkpoint",
    "network",
    "store",
    "lib",
    "ffi",
    "config",
    "errors",
    "log",
  ],
  streaming: ["shim/protocol.ts", "lib", "ffi", "config", "errors", "log"],
  cri: ["api", "runtime", "streaming", "image", "lib", "config", "errors", "log"],
};
const FREE = ["tests", "bench", "tools", "testing", "deploy", "app", "main.ts", "version.ts"];
// layers:end

async function* files(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(`${ROOT}/${dir}`)) {
    const rel = dir === "." ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory) {
      if (["node_modules", ".git", ".cache", "testdata"].includes(e.name)) continue;
      yield* files(rel);
    } else if (e.isFile && rel.endsWith(".ts")) {
      yield rel;
    }
  }
}

/** The layer of `rel`: the longest path of the table (or free entry) that holds it. */
function layerOf(rel: string): string | undefined {
  let best: string | undefined;
  for (const key of [...Object.keys(ALLOWED), ...FREE]) {
    if ((rel === key || rel.startsWith(`${key}/`)) && key.length > (best?.length ?? -1)) {
      best = key;
    }
  }
  return best;
}

/** Tests, benches and their helpers: `*_test.ts`, `*_bench.ts`, `_test_*.ts`, `testing/`. */
function isTestCode(rel: string): boolean {
  return /_(test|bench)\.ts$|(^|\/)_test_[a-z0-9_]+\.ts$|(^|\/)testing\//.test(rel);
}

/** Test helpers: what tests may import besides their layer's imports. */
function isTestHelper(rel: string): boolean {
  return /(^|\/)_test_[a-z0-9_]+\.ts$|(^|\/)testing\//.test(rel) || rel.startsWith("tests/");
}

function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith(".")) return undefined;
  const url = new URL(spec, `file://${ROOT}/${from}`);
  return url.pathname.slice(ROOT.length + 1);
}

const importRe = /^\s*(import|export)\s+(type\s+)?[^;]*?from\s+["']([^"']+)["']/gm;
const bareRe = /^\s*import\s+["']([^"']+)["']/gm;

const problems: string[] = [];
const graph = new Map<string, string[]>();

// The table itself must be acyclic and name only layers it defines.
function checkTable(): void {
  const seen = new Map<string, 1 | 2>();
  const visit = (k: string, path: string[]): void => {
    seen.set(k, 1);
    for (const d of ALLOWED[k] ?? []) {
      if (!(d in ALLOWED)) problems.push(`layer table: ${k} names unknown layer ${d}`);
      else if (seen.get(d) === 1) problems.push(`layer table cycle: ${[...path, d].join(" → ")}`);
      else if (!seen.has(d)) visit(d, [...path, d]);
    }
    seen.set(k, 2);
  };
  for (const k of Object.keys(ALLOWED)) if (!seen.has(k)) visit(k, [k]);
}
checkTable();

for await (const file of files(".")) {
  const text = await Deno.readTextFile(`${ROOT}/${file}`);
  const deps: string[] = [];
  const isTest = isTestCode(file);
  if (layerOf(file) === undefined) {
    problems.push(`${file} is in no layer: give its folder a floor in tools/layers.ts`);
  }
  for (const m of text.matchAll(importRe)) {
    const target = resolve(file, m[3]!);
    if (!target) continue;
    deps.push(target);
    checkLayer(file, target, isTest);
  }
  for (const m of text.matchAll(bareRe)) {
    const target = resolve(file, m[1]!);
    if (target) {
      deps.push(target);
      checkLayer(file, target, isTest);
    }
  }
  graph.set(file, deps);
}

function checkLayer(file: string, target: string, isTest: boolean): void {
  const from = layerOf(file);
  const to = layerOf(target);
  if (from === undefined || to === undefined) return;
  if (FREE.includes(from)) return;
  if (isTestHelper(target)) {
    if (!isTest) problems.push(`${file} imports ${target}: production code may not use test code`);
    return;
  }
  if (from === to || to === "version.ts") return;
  if (!(ALLOWED[from] ?? []).includes(to)) {
    problems.push(`${file} imports ${target}: ${from}/ may not import ${to}/`);
  }
}

// Cycles among imports (type-only ones too: a cycle of types is a cycle of meaning), by
// depth-first search.
const state = new Map<string, 1 | 2>();
const stack: string[] = [];
function visit(n: string): void {
  state.set(n, 1);
  stack.push(n);
  for (const d of graph.get(n) ?? []) {
    if (!graph.has(d)) continue;
    const s = state.get(d);
    if (s === 1) {
      problems.push(`import cycle: ${[...stack.slice(stack.indexOf(d)), d].join(" → ")}`);
    } else if (s === undefined) {
      visit(d);
    }
  }
  stack.pop();
  state.set(n, 2);
}
for (const n of graph.keys()) if (!state.has(n)) visit(n);

if (problems.length) {
  for (const p of problems) console.error(p);
  console.error(`\n${problems.length} layering problem(s)`);
  Deno.exit(1);
}
console.log(`layers: ${graph.size} modules, imports point one way, no cycles`);
