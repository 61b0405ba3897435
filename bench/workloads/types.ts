/**
 * What a workload is and what it gets to work with. A workload measures one thing on both
 * runtimes with the same requests, alternating between them; it declares figures and adds
 * samples, and the runner turns failures into per-runtime statuses.
 *
 * @module
 */
import type { CgroupLayout } from "../../cgroups/mod.ts";
import type { Logger } from "../../log/mod.ts";
import type { FigureSpec, Subject } from "../report.ts";
import type { BenchRuntime } from "../runtimes.ts";

/** Image references in the local registry. */
export interface BenchImages {
  /** `busybox` with every applet: the containers' image. */
  readonly busybox: string;
  /** The pause image (sandbox_image of both runtimes). */
  readonly pause: string;
  /** The ≥ 50 MB multi-layer image of the pull workload, when pushed. */
  readonly bench?: {
    readonly ref: string;
    readonly bytes: number;
    readonly layers: number;
  };
}

/** Collects one figure's samples. */
export interface FigureSink {
  /** Adds a sample measured on `who`. */
  add(who: Subject, value: number): void;
}

/** Iteration counts, so --quick can shrink them in one place. */
export interface Sizes {
  /** Full run: `full`; --quick: `quick`. */
  pick(full: number, quick: number): number;
}

/** What a workload works with. */
export interface WorkloadContext extends Sizes {
  /** The runtimes still in the running for this workload. */
  readonly runtimes: readonly BenchRuntime[];
  readonly images: BenchImages;
  readonly quick: boolean;
  /**
   * `inprocess`: calls on one connection, host-network pods by default; `process`: a new
   * client process per call (crictl's way), pods on the CNI network by default.
   */
  readonly client: "inprocess" | "process";
  /**
   * Where pods of `rt` put their log directories (the kubelet's `/var/log/pods` with
   * `--client process`); the runtime is told it as its pod log root.
   */
  podLogRoot(rt: BenchRuntime): string;
  /** Part of every pod name of the run (the sweep finds their log directories by it). */
  readonly podMarker: string;
  /** Pods the memory workload keeps running (`--memory-pods`), if set. */
  readonly memoryPods: number | null;
  /** Aborted on Ctrl-C: stop between iterations. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** The run's directory (pod log directories go under it). */
  readonly runDir: string;
  /** The node's cgroup hierarchies (pod cgroups are created in each, as the kubelet does). */
  readonly cgroups: CgroupLayout;
  /** The run's cgroup (`/sauropod-bench-<id>`), in every hierarchy. */
  readonly cgroupRoot: string;
  /** The cgroup under which pods of `rt` are put (`<bench root>/<runtime>`). */
  podCgroupBase(rt: BenchRuntime): string;
  /** Declares a figure of this workload. */
  figure(spec: FigureSpec): FigureSink;
  /** A line of explanation stored with the workload (and printed). */
  note(text: string): void;
  /**
   * Runs `fn` for every runtime still in the running, alternating: A, B, A, B… for
   * `iterations` rounds. A runtime whose call throws is marked failed (or skipped, when
   * the runtime answered UNIMPLEMENTED) and left out of the later rounds.
   */
  alternate(iterations: number, fn: (rt: BenchRuntime, i: number) => Promise<void>): Promise<void>;
  /** Runs `fn` once per runtime still in the running, with the same failure handling. */
  each(fn: (rt: BenchRuntime) => Promise<void>): Promise<void>;
  /** Marks `who` skipped with a reason (and leaves it out of later rounds). */
  skip(who: Subject, reason: string): void;
}

/** A benchmark workload. */
export interface Workload {
  /** Name used by `--only` and as the figures' id prefix. */
  readonly name: string;
  readonly title: string;
  /** Part of the `--quick` subset. */
  readonly quick: boolean;
  /** Needs the ≥ 50 MB image pushed (it takes a while to build the first time). */
  readonly needsBenchImage?: boolean;
  /** Subjects it measures besides the runtimes (the floor measures bare runc only). */
  readonly subjects?: readonly Subject[];
  /** Measures. Pods it creates must be gone when it returns (the runner checks). */
  run(ctx: WorkloadContext): Promise<void>;
}
