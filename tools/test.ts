// deno-lint-ignore-file no-console
/**
 * The test runner behind `deno task test*`: static checks and the test tiers.
 *
 *   static       deno fmt --check, deno lint, deno check, the layering check
 *   unit         `*_test.ts` beside the code (not under tests/, not *_integration_test.ts),
 *                sandboxed: each file runs with exactly the flags it declares on a line
 *                `// test-permissions: --allow-read=cgroups/testdata` (none by default)
 *   integration  `*_integration_test.ts`: as root, real runc, cgroups, FFI; -A
 *   e2e          `tests/**\/*_test.ts` (not tests/node/): the real agent over its socket
 *   node         tests/node/ inside the node-vm guest (systemd + cgroup v2)
 *   all          every tier above, in that order; SAUROPOD_SKIP_NODE_VM=1 skips the guest
 *
 * Extra arguments after the tier are passed to `deno test` (e.g. `--filter restart`).
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const SANITIZE = ["--sanitize-ops", "--sanitize-resources"];

type Tier = "static" | "unit" | "integration" | "e2e" | "node";
const TIERS: Tier[] = ["static", "unit", "integration", "e2e", "node"];

interface Outcome {
  tier: string;
  ok: boolean;
  seconds: number;
  note?: string;
}

async function run(cmd: string[], env?: Record<string, string>): Promise<boolean> {
  const [bin, ...args] = cmd;
  const status = await new Deno.Command(bin!, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
    ...(env ? { env } : {}),
  }).spawn().status;
  return status.success;
}

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for await (const e of Deno.readDir(`${ROOT}/${dir}`)) {
    const rel = dir === "." ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory) {
      if (["node_modules", ".git", ".cache", "testdata"].includes(e.name)) continue;
      await walk(rel, out);
    } else if (e.isFile && e.name.endsWith("_test.ts")) {
      out.push(rel);
    }
  }
  return out.sort();
}

async function declaredFlags(file: string): Promise<string> {
  const head = (await Deno.readTextFile(`${ROOT}/${file}`)).slice(0, 2000);
  const m = head.match(/^\/\/ test-permissions:(.*)$/m);
  return (m?.[1] ?? "").trim();
}

async function staticChecks(): Promise<boolean> {
  let ok = true;
  for (
    const cmd of [
      ["deno", "fmt", "--check"],
      ["deno", "lint"],
      ["deno", "check", "."],
      ["deno", "run", "--allow-read", "tools/layers.ts"],
    ]
  ) {
    console.log(`\n$ ${cmd.join(" ")}`);
    if (!(await run(cmd))) ok = false;
  }
  return ok;
}

async function unit(extra: string[]): Promise<boolean> {
  const files = (await walk(".")).filter((f) =>
    !f.startsWith("tests/") && !f.endsWith("_integration_test.ts")
  );
  const groups = new Map<string, string[]>();
  for (const f of files) {
    const flags = await declaredFlags(f);
    groups.set(flags, [...(groups.get(flags) ?? []), f]);
  }
  let ok = true;
  for (const [flags, group] of groups) {
    const args = flags ? flags.split(/\s+/) : [];
    console.log(`\n$ deno test ${[...SANITIZE, ...args].join(" ")} (${group.length} files)`);
    if (!(await run(["deno", "test", "--no-prompt", ...SANITIZE, ...args, ...extra, ...group]))) {
      ok = false;
    }
  }
  return ok;
}

async function integration(extra: string[]): Promise<boolean> {
  const files = (await walk(".")).filter((f) =>
    f.endsWith("_integration_test.ts") && !f.startsWith("tests/")
  );
  if (files.length === 0) return true;
  return await run(["deno", "test", "-A", "--no-prompt", ...SANITIZE, ...extra, ...files]);
}

async function e2e(extra: string[]): Promise<boolean> {
  const files = (await walk("tests")).filter((f) => !f.startsWith("tests/node/"));
  if (files.length === 0) return true;
  return await run(["deno", "test", "-A", "--no-prompt", ...extra, ...files]);
}

async function node(extra: string[]): Promise<{ ok: boolean; note?: string }> {
  if (Deno.env.get("SAUROPOD_SKIP_NODE_VM") === "1") {
    return { ok: true, note: "skipped: SAUROPOD_SKIP_NODE_VM=1" };
  }
  // run.ts leaves a one-line outcome here: how many tests ran in the guest, or why none did.
  const summary = await Deno.makeTempFile({ prefix: "sauropod-node-summary-" });
  try {
    const ok = await run(["deno", "run", "-A", "tests/node/run.ts", ...extra], {
      SAUROPOD_NODE_SUMMARY: summary,
    });
    const note = (await Deno.readTextFile(summary)).trim();
    return note ? { ok, note } : { ok };
  } finally {
    await Deno.remove(summary).catch(() => {});
  }
}

async function main(): Promise<number> {
  const [which = "all", ...extra] = Deno.args;
  const tiers: Tier[] = which === "all" ? TIERS : [which as Tier];
  if (!tiers.every((t) => TIERS.includes(t))) {
    console.error(`unknown tier "${which}" (want ${TIERS.join(", ")} or all)`);
    return 2;
  }
  const outcomes: Outcome[] = [];
  for (const tier of tiers) {
    const t0 = performance.now();
    console.log(`\n==== ${tier} ====`);
    let ok: boolean;
    let note: string | undefined;
    switch (tier) {
      case "static":
        ok = await staticChecks();
        break;
      case "unit":
        ok = await unit(extra);
        break;
      case "integration":
        ok = await integration(extra);
        break;
      case "e2e":
        ok = await e2e(extra);
        break;
      case "node":
        ({ ok, note } = await node(extra));
        break;
    }
    outcomes.push({
      tier,
      ok,
      seconds: (performance.now() - t0) / 1000,
      ...(note ? { note } : {}),
    });
  }
  console.log("\n==== summary ====");
  for (const o of outcomes) {
    console.log(
      `${o.ok ? "PASS" : "FAIL"}  ${o.tier.padEnd(12)} ${o.seconds.toFixed(1).padStart(7)} s${
        o.note ? `  (${o.note})` : ""
      }`,
    );
  }
  return outcomes.every((o) => o.ok) ? 0 : 1;
}

Deno.exit(await main());
