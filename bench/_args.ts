/**
 * The bench's command line: `deno task bench [--quick] [--only a,b] [--json path] [--list]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { invalidArgument } from "../errors/mod.ts";

/** Parsed options. */
export interface BenchOptions {
  /** The ~2-minute subset with fewer iterations. */
  readonly quick: boolean;
  /**
   * `inprocess`: one gRPC connection from the bench process, like the kubelet's;
   * `process`: a new client process per call, as crictl runs (and pods on the CNI network,
   * logs under /var/log/pods).
   */
  readonly client: "inprocess" | "process";
  /** The sauropod checkout to run the agent from; null: this one. */
  readonly agent: string | null;
  /** Pods the memory workload keeps running; null: 50 (10 with --quick). */
  readonly memoryPods: number | null;
  /** Workloads to run, in the suite's order; null: all (of the subset). */
  readonly only: readonly string[] | null;
  /** Where to write the JSON; null: `bench/results/<timestamp>.json`. */
  readonly json: string | null;
  /** Print the workloads and exit. */
  readonly list: boolean;
  readonly help: boolean;
}

/** The usage text. */
export const USAGE = `usage: deno task bench [options]

Runs the same CRI workloads against sauropod and containerd 1.6 (started side by side in a
temp dir, torn down at the end) and prints sauropod, containerd and their ratio per figure.

  --quick            a ~2-minute subset with fewer iterations
  --client process   each CRI call in a new client process (as crictl), pods on the CNI
                     network with logs under /var/log/pods; default: inprocess (one connection)
  --agent <dir>      run the agent of another checkout (a baseline: git archive C | tar -x)
  --memory-pods <n>  pods running while memory is read (default 50, 10 with --quick;
                     110 is the kubelet's default maxPods)
  --only a,b         run only these workloads (see --list)
  --json <path>      write the JSON report here (default bench/results/<timestamp>.json)
  --list             list the workloads and exit
  -h, --help         this text

Needs root, containerd, runc, the CNI plugins and docker-registry (README's setup).`;

/** Parses `args` against the known workload names. */
export function parseBenchArgs(
  args: readonly string[],
  workloads: readonly string[],
): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        quick: { type: "boolean", default: false },
        only: { type: "string" },
        client: { type: "string", default: "inprocess" },
        agent: { type: "string" },
        "memory-pods": { type: "string" },
        json: { type: "string" },
        list: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw invalidArgument(err instanceof Error ? err.message : String(err));
  }
  let only: string[] | null = null;
  if (values.only !== undefined) {
    only = values.only.split(",").map((s) => s.trim()).filter((s) => s !== "");
    const unknown = only.filter((w) => !workloads.includes(w));
    if (unknown.length > 0) {
      throw invalidArgument(
        `--only names unknown workloads: ${unknown.join(", ")} (known: ${workloads.join(", ")})`,
      );
    }
    if (only.length === 0) throw invalidArgument("--only needs at least one workload");
  }
  if (values.client !== "inprocess" && values.client !== "process") {
    throw invalidArgument(`--client is inprocess or process, not ${JSON.stringify(values.client)}`);
  }
  if (values.agent !== undefined && !values.agent.startsWith("/")) {
    throw invalidArgument("--agent needs an absolute path");
  }
  let memoryPods: number | null = null;
  if (values["memory-pods"] !== undefined) {
    memoryPods = Number(values["memory-pods"]);
    if (!Number.isInteger(memoryPods) || memoryPods < 1 || memoryPods > 500) {
      throw invalidArgument("--memory-pods is a whole number from 1 to 500");
    }
  }
  if (values.json === "") throw invalidArgument("--json needs a path");
  return {
    quick: values.quick,
    client: values.client,
    agent: values.agent ?? null,
    memoryPods,
    only,
    json: values.json ?? null,
    list: values.list,
    help: values.help,
  };
}
