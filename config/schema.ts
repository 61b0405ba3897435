/**
 * Every configuration key of sauropod, with its type, default and documentation.
 *
 * This table is the single source: the loader validates against it, `config/mod.ts`
 * derives the typed {@link Config}, and `deploy/config.toml` plus the README's
 * configuration section are generated from it (`deno run tools/config_doc.ts`).
 *
 * @module
 */

/** The type of one key. */
export type FieldType =
  | { kind: "string" }
  | { kind: "int"; min?: number; max?: number }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "string-list" }
  | { kind: "glob-list" }
  | { kind: "string-list-map" }
  | { kind: "auth-map" }
  /** Named tables, each checked against {@link HANDLER_SCHEMA} (`[runtime.handlers.<name>]`). */
  | { kind: "handler-map" };

/** A documented key. `default` is in TOML terms (snake_case keys, plain values). */
export interface FieldSpec {
  readonly type: FieldType;
  readonly default: unknown;
  readonly doc: string;
}

/** A table of keys (and sub-tables). */
export interface TableSpec {
  readonly doc?: string;
  readonly fields: Readonly<Record<string, FieldSpec | TableSpec>>;
}

/** True when `s` is a sub-table rather than a key. */
export function isTable(s: FieldSpec | TableSpec): s is TableSpec {
  return "fields" in s;
}

const str = (def: string, doc: string): FieldSpec => ({
  type: { kind: "string" },
  default: def,
  doc,
});
const int = (def: number, doc: string, min = 0, max = Number.MAX_SAFE_INTEGER): FieldSpec => ({
  type: { kind: "int", min, max },
  default: def,
  doc,
});
const oneOf = (values: readonly string[], def: string, doc: string): FieldSpec => ({
  type: { kind: "enum", values },
  default: def,
  doc,
});
const list = (def: string[], doc: string): FieldSpec => ({
  type: { kind: "string-list" },
  default: def,
  doc,
});

/** The whole configuration file. */
export const SCHEMA: TableSpec = {
  fields: {
    socket: str(
      "/run/sauropod/sauropod.sock",
      "Path of the CRI unix socket (crictl --runtime-endpoint unix://<socket>).",
    ),
    socket_group: str(
      "",
      "Group (name or numeric gid) that owns the socket, mode 0660. Empty: root's group.",
    ),
    root: str(
      "/var/lib/sauropod",
      "Persistent state: metadata store, image content and snapshots, container bundles.",
    ),
    state: str(
      "/run/sauropod",
      "Volatile state: shim sockets and exit records, pinned namespaces. Lost on reboot.",
    ),
    shutdown_grace_seconds: int(
      10,
      "On SIGTERM/SIGINT, how long in-flight calls may run before the agent exits anyway.",
    ),
    log: {
      doc: "Agent logging, to stderr (journald reads it).",
      fields: {
        level: oneOf(["debug", "info", "warn", "error"], "info", "Lowest level written."),
        format: oneOf(["text", "json"], "text", "Line format."),
      },
    },
    runtime: {
      doc: "The OCI runtime that runs containers.",
      fields: {
        binary: str(
          "runc",
          "OCI runtime binary (name on PATH or absolute path): runc or crun. Without " +
            "[runtime.handlers.*] tables this is the one runtime handler, named after the " +
            "binary (runc, crun); with them, set it per handler instead.",
        ),
        root: str(
          "",
          "State directory passed to the runtime as --root, for the handler made from " +
            "runtime.binary. Empty: <state>/runc.",
        ),
        default_handler: str(
          "",
          'The runtime handler of a pod whose RunPodSandbox names none (runtime_handler ""). ' +
            "Empty: the only handler there is (several handlers need one named here).",
        ),
        handlers: {
          type: { kind: "handler-map" },
          default: {},
          doc: "Runtime handlers (Kubernetes RuntimeClass handlers), one table each: " +
            '[runtime.handlers.crun] binary = "crun". A RuntimeClass names one by its table ' +
            "name; its pods' containers run under that binary for every call. Keys: binary " +
            "(default: the table's name), root (--root; default <state>/runtimes/<name>), " +
            'options (extra global flags before each command, e.g. ["--debug"]), ' +
            "pod_annotations and container_annotations (allowlists, as below). What each " +
            "handler supports (recursive read-only mounts, user namespaces) is probed at " +
            "start from `<binary> features` or its version, and listed by Status and " +
            "`sauropod check`. With these tables, runtime.binary, runtime.root and the " +
            "annotation keys of [runtime] are refused: each handler carries its own.",
        },
        cgroup_driver: oneOf(
          ["cgroupfs", "systemd"],
          "cgroupfs",
          "How container cgroups are named and created; must match the kubelet's cgroupDriver.",
        ),
        restrict_oom_score_adj: oneOf(
          ["auto", "true", "false"],
          "auto",
          "Clamp oom_score_adj to the agent's own score (containerd's restrict_oom_score_adj). " +
            "auto: on when the agent lacks CAP_SYS_RESOURCE.",
        ),
        call_timeout_seconds: int(
          60,
          "A runtime call (create, start, kill, delete) running longer than this is killed and fails.",
          1,
        ),
        pod_annotations: {
          type: { kind: "glob-list" },
          default: [],
          doc: "Pod annotations passed into the OCI spec of the pod's containers and of its " +
            "pause container (handler made from runtime.binary), as glob patterns with Go's path.Match rules (containerd's " +
            'pod_annotations): ["io.katacontainers.*"]. Others are left out, so that a pod ' +
            "cannot steer the OCI runtime (crun acts on run.oci.*, runc's systemd driver on " +
            "org.systemd.property.*). The io.kubernetes.cri.* annotations sauropod writes " +
            "itself are always there.",
        },
        container_annotations: {
          type: { kind: "glob-list" },
          default: [],
          doc: "Container annotations passed into the container's OCI spec, as pod_annotations " +
            "(containerd's container_annotations).",
        },
        pod_logs_dir: str(
          "/var/log/pods",
          "The kubelet's pod log directory (its podLogsDir). The agent keeps one shim started " +
            "ahead, allowed to write under it, so CreateContainer does not wait for a shim to " +
            "start. Empty: no shim is kept waiting.",
        ),
        pod_log_roots: list(
          ["/var/log/pods"],
          "Directories pods may log under: a RunPodSandbox whose log_directory is not beneath " +
            "one of them is refused (INVALID_ARGUMENT). The agent may write only here, in its " +
            "own directories and in cgroupfs (`sauropod serve` computes its Deno permissions " +
            'from this file). crictl\'s examples and critest log under /tmp: add "/tmp" for them. ' +
            "Absolute paths without . or .. components; needs a restart.",
        ),
        checkpoint_roots: list(
          ["/var/lib/kubelet/checkpoints"],
          "Directories CheckpointContainer and CheckpointPod may write archives under (the " +
            "kubelet writes to /var/lib/kubelet/checkpoints): a location outside them is refused " +
            "(INVALID_ARGUMENT naming this key). The agent's Deno permissions cover them; absolute " +
            "paths without . or .. components; needs a restart.",
        ),
      },
    },
    sandbox: {
      doc: "Pod sandboxes.",
      fields: {
        image: str(
          "registry.k8s.io/pause:3.10",
          "Image of the sandbox (pause) container, used only when a pod shares one PID namespace.",
        ),
      },
    },
    cni: {
      doc: "Pod networking through CNI plugins.",
      fields: {
        conf_dir: str(
          "/etc/cni/net.d",
          "Directory of network configs; the lexically first .conflist/.conf/.json is used.",
        ),
        bin_dirs: list(["/opt/cni/bin", "/usr/lib/cni"], "Directories searched for CNI plugins."),
        plugin_timeout_seconds: int(30, "Deadline of one plugin invocation (ADD, DEL, CHECK).", 1),
      },
    },
    image: {
      doc: "Image pulls and storage.",
      fields: {
        max_concurrent_downloads: int(3, "Layers of one image fetched at once.", 1, 64),
        pull_progress_timeout_seconds: int(
          300,
          "A pull that makes no progress for this long is cancelled. 0: never.",
        ),
        insecure_registries: list(
          [],
          "Registries (host[:port]) reached over plain http. Loopback registries always are.",
        ),
        mirrors: {
          type: { kind: "string-list-map" },
          default: {},
          doc: "Mirrors per registry host, tried in order before the registry itself: " +
            '"docker.io" = ["http://127.0.0.1:5000"].',
        },
        auths: {
          type: { kind: "auth-map" },
          default: {},
          doc: "Node-level credentials per registry host: " +
            "{ username, password } or { auth } (base64 user:pass) or { identity_token }.",
        },
      },
    },
    stream: {
      doc: "The streaming server behind Exec, Attach and PortForward.",
      fields: {
        address: str("127.0.0.1", "Address the streaming server binds to."),
        port: int(0, "TCP port; 0 picks a free one at start.", 0, 65535),
        token_ttl_seconds: int(60, "How long a streaming URL stays valid (single use).", 1),
        idle_timeout_seconds: int(
          14400,
          "An exec/attach/port-forward session with no traffic for this long is closed. 0: never.",
        ),
        head_timeout_seconds: int(
          5,
          "A connection must send its whole request head within this, however slowly it " +
            "trickles; then it gets 408 and is closed.",
          1,
        ),
        max_connections: int(
          1024,
          "Connections open at once; more are refused with 503.",
          1,
        ),
        max_connections_per_source: int(
          512,
          "Connections open at once from one source address; more are refused with 429. " +
            "With the default address every client (the kubelet included) is 127.0.0.1.",
          1,
        ),
        max_unauthenticated_connections: int(
          128,
          "Connections that have not yet presented a valid streaming token; more are refused " +
            "with 503.",
          1,
        ),
      },
    },
    limits: {
      doc: "Bounds that keep one client from exhausting the agent.",
      fields: {
        max_recv_message_bytes: int(16 << 20, "Largest request message accepted.", 1024),
        max_send_message_bytes: int(16 << 20, "Largest response message sent.", 1024),
        max_concurrent_calls: int(
          512,
          "Calls in flight at once; more are refused (RESOURCE_EXHAUSTED).",
          1,
        ),
        exec_sync_output_bytes: int(16 << 20, "Cap on each of ExecSync's stdout and stderr.", 1024),
      },
    },
    cdi: {
      doc: "CDI devices (Container Device Interface): the specs device plugins and DRA drivers " +
        "write, which CreateContainer's CDI_devices and cdi.k8s.io/* annotations name.",
      fields: {
        spec_dirs: list(
          ["/etc/cdi", "/var/run/cdi"],
          "Directories of CDI spec files (*.json, *.yaml), read at each CreateContainer that asks " +
            "for a device. A device defined in a later directory replaces an earlier one. Each " +
            "file may be at most 1 MiB, each directory hold at most 256 specs.",
        ),
      },
    },
    stats: {
      doc: "Container and pod statistics.",
      fields: {
        collect_period_seconds: int(
          0,
          "Background collection period: every N seconds the agent reads the cgroups of every " +
            "pod and container, and stats and metrics calls are answered from those readings. " +
            "0 reads cgroups on demand, with a 1 s cache.",
        ),
      },
    },
    metrics: {
      doc: "Prometheus metrics of the agent (GET /metrics). Off unless `address` is set. " +
        "`address` reloads on SIGHUP (the endpoint rebinds in place; a failed bind keeps the " +
        "old one); a unix socket in a directory the agent was not started with needs a restart.",
      fields: {
        address: str(
          "",
          'Where /metrics is served: "127.0.0.1:<port>" or "[::1]:<port>" (loopback TCP), or ' +
            'an absolute path or "unix://<path>" (a unix socket, mode 0660, group socket_group). ' +
            "Empty: no endpoint. The endpoint has no authentication, so a non-loopback address " +
            "is refused unless allow_non_loopback is set.",
        ),
        allow_non_loopback: {
          type: { kind: "bool" },
          default: false,
          doc: "Accept a non-loopback address. The metrics endpoint has neither TLS nor " +
            "authentication and tells anyone who reaches it what the node runs (pod and " +
            "container counts, images pulled, failing RPCs); put a TLS/authenticating proxy " +
            "in front (kube-rbac-proxy) rather than setting this.",
        },
      },
    },
    debug: {
      doc: "Switches for development and tests. Leave alone in production.",
      fields: {
        fault_points: list(
          [],
          "Named fault points (runtime/faults.ts): `point` kills the agent there (tests of crash " +
            "recovery); `point=hold` holds the operation there until <state>/fault-holds/<point> " +
            "is removed (tests of races).",
        ),
      },
    },
  },
};

/** One `[runtime.handlers.<name>]` table. */
export const HANDLER_SCHEMA: TableSpec = {
  fields: {
    binary: str("", "OCI runtime binary (name on PATH or absolute path). Empty: the table's name."),
    root: str("", "State directory passed as --root. Empty: <state>/runtimes/<name>."),
    options: list(
      [],
      "Extra global flags given to the binary before each command (each starts with --).",
    ),
    pod_annotations: {
      type: { kind: "glob-list" },
      default: [],
      doc: "Pod annotations passed into this handler's OCI specs (as runtime.pod_annotations).",
    },
    container_annotations: {
      type: { kind: "glob-list" },
      default: [],
      doc: "Container annotations passed into this handler's OCI specs.",
    },
  },
};
