// deno-lint-ignore-file no-console
/**
 * Keeps the layers visible in the folders: imports point one way, and no module imports
 * itself through a cycle.
 *
 *   cri/, streaming/  →  runtime/  →  shim/, cgroups/  →  ffi/, config/  →  errors/, log/
 *                        (and cri/gen/, the generated CRI types, at the bottom)
 *
 * `main.ts`, `app/`, `tests/`, `bench/`, `tools/` and `testing/` may import anything; test
 * files may import test helpers.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * Which layers each layer may import from (besides itself). A layer is a top-level folder,
 * except that the generated CRI types (`cri/gen/`) are their own bottom layer: they are the
 * vocabulary of the domain, so `runtime/` may use them while it may not use the transport.
 */
const ALLOWED: Record<string, string[]> = {
  errors: [],
  log: [],
  "cri/gen": [],
  config: ["errors", "log"],
  ffi: ["errors", "log"],
  cgroups: ["ffi", "errors", "log", "config"],
  shim: ["cgroups", "ffi", "errors", "log", "config"],
  runtime: ["cri/gen", "shim", "cgroups", "ffi", "errors", "log", "config"],
  streaming: ["runtime", "cri/gen", "shim", "ffi", "errors", "log", "config"],
  cri: ["cri/gen", "runtime", "streaming", "errors", "log", "config"],
};
const FREE = new Set(["tests", "bench", "tools", "testing", "deploy", "app", "main.ts"]);

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

function topOf(rel: string): string {
  if (rel.startsWith("cri/gen/")) return "cri/gen";
  return rel.split("/")[0]!;
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

for await (const file of files(".")) {
  const text = await Deno.readTextFile(`${ROOT}/${file}`);
  const deps: string[] = [];
  // Tests and their private helpers (`_test_fixtures.ts`, `*/testing/*`) may use test code.
  const isTest = /_test(_[a-z_]+)?\.ts$|(^|\/)_test_[a-z_]+\.ts$|\/testing\//.test(file);
  for (const m of text.matchAll(importRe)) {
    const typeOnly = Boolean(m[2]);
    const target = resolve(file, m[3]!);
    if (!target) continue;
    if (!typeOnly) deps.push(target);
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
  const from = topOf(file);
  const to = topOf(target);
  if (from === to || FREE.has(from) || to === "version.ts") return;
  if (isTest && (to === "testing" || to === "tests")) return;
  const allowed = ALLOWED[from];
  if (allowed === undefined) return;
  if (!allowed.includes(to)) {
    problems.push(`${file} imports ${target}: ${from}/ may not import ${to}/`);
  }
}

// Cycles among runtime (non type-only) imports, by depth-first search.
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
