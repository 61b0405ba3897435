/**
 * Runs one workload: gives it a context, alternates the runtimes, turns a runtime's
 * failure into its status (the run goes on with the other), and makes sure no pod of the
 * workload survives it.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type { CgroupLayout } from "../cgroups/mod.ts";
import { messageOf } from "../errors/mod.ts";
import type { Logger } from "../log/mod.ts";
import { CriError } from "../tests/harness/cri_client.ts";
import {
  type FigureResult,
  figureResult,
  type FigureSpec,
  RUNTIMES,
  type Status,
  type Subject,
  type WorkloadResult,
} from "./report.ts";
import type { BenchRuntime } from "./runtimes.ts";
import type { BenchImages, FigureSink, Workload, WorkloadContext } from "./workloads/types.ts";

/** What every workload shares. */
export interface RunnerOptions {
  readonly runtimes: readonly BenchRuntime[];
  readonly images: BenchImages;
  readonly quick: boolean;
  /** How CRI calls are made (see `_args.ts`). */
  readonly client: "inprocess" | "process";
  /** Where pods' log directories go (the runtimes know it as their pod log root). */
  podLogRoot(rt: BenchRuntime): string;
  /** In every pod name of the run (so a sweep finds their log directories). */
  readonly podMarker: string;
  readonly memoryPods: number | null;
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly runDir: string;
  /** The run's cgroup root (`/sauropod-bench-<id>`). */
  readonly cgroupRoot: string;
  readonly cgroups: CgroupLayout;
}

/** A workload's outcome and figures. */
export interface WorkloadOutcome {
  readonly result: WorkloadResult;
  readonly figures: FigureResult[];
}

/** A failed call's status, or skipped when the runtime does not implement the RPC. */
export function statusOf(err: unknown): Status {
  if (err instanceof CriError && err.code === grpc.status.UNIMPLEMENTED) {
    const method = err.method.split("/").pop() ?? err.method;
    return { state: "skipped", reason: `${method} is not implemented yet (${err.details})` };
  }
  return { state: "failed", error: messageOf(err) };
}

/** Runs `w` against `o.runtimes` and reports how it went. */
export async function runWorkload(w: Workload, o: RunnerOptions): Promise<WorkloadOutcome> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const subjects: readonly Subject[] = w.subjects ?? RUNTIMES;
  const status = new Map<Subject, Status>(subjects.map((s) => [s, { state: "ok" }]));
  const notes: string[] = [];
  const specs: FigureSpec[] = [];
  const samples = new Map<string, Partial<Record<Subject, number[]>>>();
  const log = o.log.with({ workload: w.name });

  const inTheRunning = (rt: BenchRuntime) => status.get(rt.name)?.state === "ok";
  const live = () => o.runtimes.filter(inTheRunning);

  const settle = async (who: Subject, err: unknown, rt?: BenchRuntime) => {
    if (o.signal.aborted) throw o.signal.reason;
    const st = statusOf(err);
    if (st.state === "failed" && rt) {
      log.warn(`${who} failed`, { error: st.error, log: await rt.logTail(15) });
    } else {
      log.warn(`${who} ${st.state}`, st.state === "skipped" ? { reason: st.reason } : {});
    }
    if (status.get(who)?.state === "ok") status.set(who, st);
  };

  const ctx: WorkloadContext = {
    get runtimes() {
      return live();
    },
    images: o.images,
    quick: o.quick,
    client: o.client,
    memoryPods: o.memoryPods,
    podLogRoot: (rt) => o.podLogRoot(rt),
    podMarker: o.podMarker,
    signal: o.signal,
    log,
    runDir: o.runDir,
    cgroups: o.cgroups,
    cgroupRoot: o.cgroupRoot,
    podCgroupBase: (rt) => `${o.cgroupRoot}/${rt.name}`,
    pick: (full, quick) => o.quick ? quick : full,
    figure(spec: FigureSpec): FigureSink {
      specs.push(spec);
      const s: Partial<Record<Subject, number[]>> = {};
      samples.set(spec.id, s);
      return { add: (who, v) => (s[who] ??= []).push(v) };
    },
    note(text) {
      notes.push(text);
      log.info(text);
    },
    async alternate(iterations, fn) {
      for (let i = 0; i < iterations; i++) {
        const round = live();
        if (round.length === 0) return;
        for (const rt of round) {
          o.signal.throwIfAborted();
          try {
            await fn(rt, i);
          } catch (err) {
            await settle(rt.name, err, rt);
          }
        }
      }
    },
    async each(fn) {
      for (const rt of live()) {
        o.signal.throwIfAborted();
        try {
          await fn(rt);
        } catch (err) {
          await settle(rt.name, err, rt);
        }
      }
    },
    skip(who, reason) {
      if (status.get(who)?.state === "ok") status.set(who, { state: "skipped", reason });
    },
  };

  log.info(`running: ${w.title}`);
  try {
    await w.run(ctx);
  } catch (err) {
    if (o.signal.aborted) {
      for (const s of subjects) {
        if (status.get(s)?.state === "ok") {
          status.set(s, { state: "skipped", reason: "interrupted" });
        }
      }
    } else {
      // A failure outside any runtime's turn (the workload's own setup): all still running fail.
      for (const s of subjects) {
        if (status.get(s)?.state === "ok") status.set(s, statusOf(err));
      }
      log.error("workload failed", { err });
    }
  } finally {
    for (const rt of o.runtimes) {
      if (!rt.running) {
        // A restart that failed half-way: bring the daemon back for the pods' removal and
        // for the next workloads.
        try {
          await rt.start();
        } catch (err) {
          log.error("runtime is down and does not start again", { runtime: rt.name, err });
          continue;
        }
      }
      try {
        await rt.removeAllPods();
      } catch (err) {
        log.warn("could not remove the workload's pods", { runtime: rt.name, err });
        if (status.get(rt.name)?.state === "ok") {
          status.set(rt.name, { state: "failed", error: `teardown: ${messageOf(err)}` });
        }
      }
    }
  }

  // A runtime that failed keeps no half-measured figures: a ratio over a partial sample
  // would look like a result.
  const figures = specs.map((spec) => {
    const s = samples.get(spec.id) ?? {};
    for (const who of Object.keys(s) as Subject[]) {
      if (status.get(who)?.state !== "ok") delete s[who];
    }
    return figureResult(spec, w.name, s);
  });
  return {
    result: {
      name: w.name,
      title: w.title,
      startedAt,
      seconds: (performance.now() - t0) / 1000,
      status: Object.fromEntries(status),
      notes,
    },
    figures,
  };
}
