/**
 * Helpers for this folder's integration tests: test cgroups under the root of each v1
 * hierarchy, named `sauropod-test-<random>`, that are removed even when a test fails.
 * They only ever touch cgroups they created.
 *
 * @module
 */

/** The v1 hierarchies of this machine the tests use, by controller. */
export const V1 = {
  cpu: "/sys/fs/cgroup/cpu",
  cpuacct: "/sys/fs/cgroup/cpuacct",
  memory: "/sys/fs/cgroup/memory",
  pids: "/sys/fs/cgroup/pids",
  blkio: "/sys/fs/cgroup/blkio",
} as const;

/** Why the v1 integration tests cannot run here, or undefined when they can. */
export function skipV1Reason(controllers: readonly (keyof typeof V1)[]): string | undefined {
  if (Deno.uid() !== 0) return "needs root";
  for (const c of controllers) {
    try {
      Deno.statSync(`${V1[c]}/cgroup.procs`);
    } catch {
      return `no cgroup v1 ${c} hierarchy at ${V1[c]}`;
    }
  }
  return undefined;
}

/** The test name, with the skip reason appended when there is one. */
export function named(name: string, skip: string | undefined): string {
  return skip ? `${name} (skipped: ${skip})` : name;
}

/** A unique test cgroup name. */
export function testCgroupName(): string {
  return `sauropod-test-${crypto.randomUUID().slice(0, 8)}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Removes a test cgroup this test created: SIGKILLs the processes still in it (they are
 * the test's own), waits for them to leave, then rmdirs. Missing already is fine.
 */
export async function removeTestCgroup(dir: string): Promise<void> {
  if (!/\/sauropod-test-[0-9a-f]{8}$/.test(dir)) {
    throw new Error(`refusing to remove ${dir}: not a test cgroup`);
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    let procs: string;
    try {
      procs = Deno.readTextFileSync(`${dir}/cgroup.procs`);
    } catch {
      return; // gone
    }
    for (const pid of procs.split("\n").filter((l) => l !== "")) {
      try {
        Deno.kill(Number(pid), "SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }
    try {
      Deno.removeSync(dir);
      return;
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return;
      if (!(err instanceof Deno.errors.Busy) && !/EBUSY|busy/i.test(String(err))) throw err;
    }
    await sleep(10);
  }
  throw new Error(`test cgroup ${dir} stayed busy`);
}

/** Creates test cgroups with one name in each of `controllers`' hierarchies. */
export async function createTestCgroups<C extends keyof typeof V1>(
  controllers: readonly C[],
  name = testCgroupName(),
): Promise<{ name: string; dirs: Record<C, string>; remove(): Promise<void> }> {
  const dirs = {} as Record<C, string>;
  const created: string[] = [];
  const remove = async () => {
    for (const d of created.reverse()) await removeTestCgroup(d);
  };
  try {
    for (const c of controllers) {
      const dir = `${V1[c]}/${name}`;
      Deno.mkdirSync(dir);
      created.push(dir);
      dirs[c] = dir;
    }
  } catch (err) {
    await remove();
    throw err;
  }
  return { name, dirs, remove };
}
