// deno-lint-ignore-file no-console
/**
 * Run by `shim/reaper_integration_test.ts` in a process of its own (it becomes child
 * subreaper, which the test runner must not). Spawns many short `Deno.Command` children
 * while orphans re-parented to it exit all around them, and prints what it saw as JSON.
 *
 * @module
 */
import { Reaper } from "../_reaper.ts";

const reaper = new Reaper();
reaper.start();

const ROUNDS = Number(Deno.args[0] ?? "200");
const errors: string[] = [];
let ok = 0;
let orphansClaimed = 0;

async function runTrue(): Promise<void> {
  try {
    const child = reaper.spawn("/bin/true", { stdin: "null", stdout: "null", stderr: "null" });
    const s = await child.status;
    if (s.success) ok++;
    else errors.push(`true exited ${s.code}`);
  } catch (err) {
    errors.push(String(err));
  }
}

async function orphanMaker(): Promise<void> {
  // The subshell outlives its parent sh (it waits for sh to be gone, so sh can never reap
  // it itself) and is re-parented to us; we learn its pid from stdout and claim its
  // status, which a sweep may already have collected.
  const child = reaper.spawn("/bin/sh", {
    args: [
      "-c",
      `p=$$; (while kill -0 $p 2>/dev/null; do sleep 0.01; done; exit 3) >/dev/null & echo $!`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  });
  const out = await child.output();
  const pid = Number(new TextDecoder().decode(out.stdout).trim());
  const status = await reaper.wait(pid);
  if (status.kind === "exited" && status.code === 3) orphansClaimed++;
  else errors.push(`orphan ${pid}: ${JSON.stringify(status)}`);
}

const work: Promise<void>[] = [];
for (let i = 0; i < ROUNDS; i++) {
  work.push(runTrue());
  if (i % 4 === 0) work.push(orphanMaker());
}
await Promise.all(work);
// Unclaimed orphans too: these are never waited for, only swept.
for (let i = 0; i < 20; i++) {
  await reaper.spawn("/bin/sh", { args: ["-c", "(exit 0) & (sleep 0.01) & exit 0"] }).status;
}
await new Promise((r) => setTimeout(r, 200));
reaper.sweep();
const zombies: number[] = [];
const children: number[] = [];
for (const t of Deno.readDirSync("/proc/self/task")) {
  for (const p of Deno.readTextFileSync(`/proc/self/task/${t.name}/children`).split(" ")) {
    if (!p) continue;
    children.push(Number(p));
    const stat = Deno.readTextFileSync(`/proc/${p}/stat`);
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) zombies.push(Number(p));
  }
}
reaper.stop();
console.log(JSON.stringify({ ok, orphansClaimed, errors, zombies, children, spawned: ROUNDS }));
