/**
 * The agent's Prometheus metrics: every family sauropod exposes, in one registry, with the
 * names and types containerd and CRI-O use for theirs (prefix `sauropod_`; the process
 * families keep client_golang's unprefixed `process_*` names, which dashboards expect).
 *
 * Two kinds of source feed it:
 * - events observed as they happen (an RPC ends, a pull ends, a layer is unpacked, CNI ADD
 *   or DEL returns, garbage collection runs), through the `record*` methods: each is a few
 *   array increments, with label children cached so the RPC path hashes nothing per call;
 * - readings taken only when scraped ({@link ScrapeSources}): containers and pods by state,
 *   live shims, and counters other parts already keep (OOM kills, dropped events, lost and
 *   reconnected shims). A scrape costs the agent nothing between scrapes.
 *
 * Cardinality is bounded by construction: labels take values from fixed vocabularies (the
 * RPC table, gRPC codes, error kinds, CRI states, CNI commands), never ids, names or image
 * references.
 *
 * prom-client does the exposition (escaping, cumulative buckets, `_sum`/`_count`); its
 * default collectors are not used, since they emit gauges named `_total` (promtool refuses
 * them) and Node internals that mean little under Deno: `process.ts` provides the process
 * families instead.
 *
 * @module
 */
import client from "prom-client";
import { type ErrorKind } from "../errors/mod.ts";
import { collectProcess } from "./process.ts";

/** gRPC status codes by number, as go-grpc-prometheus labels them. */
const GRPC_CODES = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
] as const;

/** RPC latency buckets, seconds: sub-millisecond reads up to multi-minute pulls. */
export const RPC_BUCKETS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  120,
  300,
];

const MIB = 1 << 20;
/** containerd's pull throughput buckets (MiB/s), in bytes per second. */
export const THROUGHPUT_BUCKETS = [0.1, 1, 10, 25, 75, 150, 300, 500, 1000, 2000, 4000].map((
  x,
) => x * MIB);
/** Layer unpack and garbage collection, seconds. */
const SLOW_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** CNI ADD/DEL, seconds (a bridge ADD takes tens of milliseconds). */
const CNI_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The CRI's container states, pod states, and the kinds of shim the agent runs. */
export const CONTAINER_STATES = ["created", "running", "exited", "unknown"] as const;
export const POD_STATES = ["ready", "notready"] as const;
export const SHIM_KINDS = ["container", "pause", "spare"] as const;
/** Why a pull failed: the error vocabulary's kinds (`errors/mod.ts`), a fixed set. */
export type PullFailure = ErrorKind;

/** Readings taken at scrape time. Counters must only grow. */
export interface ScrapeSources {
  containers(): Record<(typeof CONTAINER_STATES)[number], number>;
  pods(): Record<(typeof POD_STATES)[number], number>;
  shims(): Record<(typeof SHIM_KINDS)[number], number>;
  /** Containers whose exit the kernel's OOM killer caused. */
  oomKills(): number;
  /** GetContainerEvents events dropped because a subscriber was too slow. */
  eventsDropped(): number;
  /** Shims that died while their container was running (the container is then killed). */
  shimsLost(): number;
  /** Shims reconnected after an agent restart (shims outlive the agent; none is respawned). */
  shimsReconnected(): number;
}

/** The RPCs the table serves, as `/<service>/<method>` paths. */
export type RpcPaths = Iterable<string>;

type Child<T> = { inc(v?: number): void } & T;

/** Every metric of the agent. One per agent (and one per test that wants its own). */
export class AgentMetrics {
  /** The registry the endpoint serves. */
  readonly registry: client.Registry = new client.Registry();

  readonly #rpcSeconds: client.Histogram<"grpc_service" | "grpc_method">;
  readonly #rpcHandled: client.Counter<"grpc_service" | "grpc_method" | "grpc_code">;
  /** Per RPC path: its latency child and its per-code counter children (made on first use). */
  readonly #rpc = new Map<
    string,
    { seconds: { observe(v: number): void }; handled: (Child<object> | undefined)[] }
  >();
  readonly #pullsOk: client.Counter;
  readonly #pullsFailed: client.Counter<"reason">;
  readonly #pullBytes: client.Counter;
  readonly #pullsInFlight: client.Gauge;
  readonly #pullThroughput: client.Histogram;
  readonly #unpackSeconds: client.Histogram;
  readonly #gcSeconds: client.Histogram;
  readonly #gcRemoved: client.Counter<"kind">;
  readonly #cniSeconds: client.Histogram<"operation">;
  readonly #cniErrors: client.Counter<"operation">;
  #sources: ScrapeSources | undefined;

  /** `rpcs`: the served RPC paths (others are counted as `unknown`); `version`: build info. */
  constructor(rpcs: RpcPaths, version: string) {
    const registers = [this.registry];
    this.#rpcSeconds = new client.Histogram({
      name: "sauropod_grpc_server_handling_seconds",
      help: "Time to handle a CRI call, from its arrival to its status (unary and streaming).",
      labelNames: ["grpc_service", "grpc_method"],
      buckets: RPC_BUCKETS,
      registers,
    });
    this.#rpcHandled = new client.Counter({
      name: "sauropod_grpc_server_handled_total",
      help: "CRI calls completed, by gRPC status code.",
      labelNames: ["grpc_service", "grpc_method", "grpc_code"],
      registers,
    });
    for (const path of [...rpcs, "/unknown/unknown"]) {
      const [service, method] = splitPath(path);
      this.#rpc.set(path, {
        seconds: this.#rpcSeconds.labels(service, method),
        handled: [],
      });
      // Calls that never happened still show as 0, so rate() works from the first scrape.
      this.#rpcHandled.labels(service, method, "OK").inc(0);
    }

    this.#pullsOk = new client.Counter({
      name: "sauropod_image_pulls_success_total",
      help: "Image pulls that succeeded.",
      registers,
    });
    this.#pullsFailed = new client.Counter({
      name: "sauropod_image_pulls_failure_total",
      help: "Image pulls that failed, by reason (the error's kind: not-found, unavailable, " +
        "permission-denied, invalid-argument, deadline-exceeded, canceled, …).",
      labelNames: ["reason"],
      registers,
    });
    this.#pullBytes = new client.Counter({
      name: "sauropod_image_pulls_bytes_total",
      help: "Bytes of layers fetched from registries (layers already present count nothing).",
      registers,
    });
    this.#pullsInFlight = new client.Gauge({
      name: "sauropod_image_pulls_in_progress",
      help: "Image pulls running now.",
      registers,
    });
    this.#pullThroughput = new client.Histogram({
      name: "sauropod_image_pull_throughput_bytes_per_second",
      help: "Bytes fetched per second of a pull's wall time, one sample per successful pull " +
        "that fetched anything (as containerd's image_pulling_throughput).",
      buckets: THROUGHPUT_BUCKETS,
      registers,
    });
    this.#unpackSeconds = new client.Histogram({
      name: "sauropod_image_layer_unpack_seconds",
      help: "Time to unpack one layer into its snapshot.",
      buckets: SLOW_BUCKETS,
      registers,
    });
    this.#gcSeconds = new client.Histogram({
      name: "sauropod_image_gc_seconds",
      help: "Time of one garbage collection of unused blobs and layer snapshots.",
      buckets: SLOW_BUCKETS,
      registers,
    });
    this.#gcRemoved = new client.Counter({
      name: "sauropod_image_gc_removed_total",
      help: "What garbage collection deleted, by kind (blob, snapshot).",
      labelNames: ["kind"],
      registers,
    });
    for (const kind of ["blob", "snapshot"]) this.#gcRemoved.labels(kind).inc(0);
    this.#cniSeconds = new client.Histogram({
      name: "sauropod_cni_operation_duration_seconds",
      help: "Time to attach (ADD) or detach (DEL) a pod's network through the CNI plugin chain.",
      labelNames: ["operation"],
      buckets: CNI_BUCKETS,
      registers,
    });
    this.#cniErrors = new client.Counter({
      name: "sauropod_cni_operation_errors_total",
      help: "CNI ADD or DEL of a pod that failed.",
      labelNames: ["operation"],
      registers,
    });
    for (const op of ["ADD", "DEL"]) this.#cniErrors.labels(op).inc(0);

    this.#scrapeGauges(registers);
    this.#scrapeCounters(registers);
    new client.Gauge({
      name: "sauropod_build_info",
      help: "The agent's version; always 1.",
      labelNames: ["version"],
      registers,
    }).set({ version }, 1);
    collectProcess(registers);
  }

  /** Where scrape-time readings come from (set once the runtime is built). */
  setSources(sources: ScrapeSources): void {
    this.#sources = sources;
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async expose(): Promise<string> {
    return await this.registry.metrics();
  }

  /** The content type of {@link expose}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** A CRI call ended: `path` is `/<service>/<method>`, `code` the gRPC status number. */
  recordRpc(path: string, code: number, seconds: number): void {
    let rpc = this.#rpc.get(path);
    if (!rpc) {
      path = "/unknown/unknown";
      rpc = this.#rpc.get(path)!;
    }
    rpc.seconds.observe(seconds);
    let handled = rpc.handled[code];
    if (!handled) {
      const [service, method] = splitPath(path);
      handled = this.#rpcHandled.labels(service, method, GRPC_CODES[code] ?? "Unknown");
      rpc.handled[code] = handled;
    }
    handled.inc();
  }

  /** An image pull began; call the returned function once it ends. */
  pullStarted(): (outcome: { bytes: number; seconds: number; failure?: PullFailure }) => void {
    this.#pullsInFlight.inc();
    let done = false;
    return ({ bytes, seconds, failure }) => {
      if (done) return;
      done = true;
      this.#pullsInFlight.dec();
      if (bytes > 0) this.#pullBytes.inc(bytes);
      if (failure) {
        this.#pullsFailed.labels(failure).inc();
        return;
      }
      this.#pullsOk.inc();
      if (bytes > 0 && seconds > 0) this.#pullThroughput.observe(bytes / seconds);
    };
  }

  /** A layer was unpacked in `seconds`. */
  recordUnpack(seconds: number): void {
    this.#unpackSeconds.observe(seconds);
  }

  /** Garbage collection ran. */
  recordGc(r: { seconds: number; blobs: number; snapshots: number }): void {
    this.#gcSeconds.observe(r.seconds);
    if (r.blobs > 0) this.#gcRemoved.labels("blob").inc(r.blobs);
    if (r.snapshots > 0) this.#gcRemoved.labels("snapshot").inc(r.snapshots);
  }

  /** CNI ADD or DEL of one pod ended. */
  recordCni(operation: "ADD" | "DEL", seconds: number, ok: boolean): void {
    this.#cniSeconds.labels(operation).observe(seconds);
    if (!ok) this.#cniErrors.labels(operation).inc();
  }

  #scrapeGauges(registers: client.Registry[]): void {
    const sources = () => this.#sources;
    const byState = <K extends string>(
      name: string,
      help: string,
      label: string,
      keys: readonly K[],
      read: (s: ScrapeSources) => Record<K, number>,
    ) =>
      new client.Gauge({
        name,
        help,
        labelNames: [label],
        registers,
        collect() {
          const s = sources();
          const values = s ? read(s) : undefined;
          for (const k of keys) this.set({ [label]: k }, values?.[k] ?? 0);
        },
      });
    byState(
      "sauropod_containers",
      "Containers by CRI state.",
      "state",
      CONTAINER_STATES,
      (s) => s.containers(),
    );
    byState("sauropod_pods", "Pod sandboxes by CRI state.", "state", POD_STATES, (s) => s.pods());
    byState(
      "sauropod_shims",
      "Live shims by kind: a container's, a pod's pause container's, or a spare started ahead.",
      "kind",
      SHIM_KINDS,
      (s) => s.shims(),
    );
  }

  #scrapeCounters(registers: client.Registry[]): void {
    const counter = (name: string, help: string, read: (s: ScrapeSources) => number) => {
      let last = 0;
      const sources = () => this.#sources;
      new client.Counter({
        name,
        help,
        registers,
        collect() {
          const s = sources();
          if (!s) return;
          const v = read(s);
          // The source only grows; prom-client's counter takes increments.
          if (v > last) this.inc(v - last);
          last = Math.max(last, v);
        },
      });
    };
    counter(
      "sauropod_containers_oom_total",
      "Containers killed by the kernel's OOM killer.",
      (s) => s.oomKills(),
    );
    counter(
      "sauropod_container_events_dropped_total",
      "GetContainerEvents events dropped because a subscriber fell behind.",
      (s) => s.eventsDropped(),
    );
    counter(
      "sauropod_shims_lost_total",
      "Shims that died while supervising a container (the container is killed and reported " +
        "exited); a shim is never respawned.",
      (s) => s.shimsLost(),
    );
    counter(
      "sauropod_shims_reconnected_total",
      "Shims the agent found and reconnected to after it restarted.",
      (s) => s.shimsReconnected(),
    );
  }
}

function splitPath(path: string): [string, string] {
  const i = path.lastIndexOf("/");
  return [path.slice(1, i) || "unknown", path.slice(i + 1) || "unknown"];
}
