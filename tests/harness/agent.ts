/**
 * Starts a real sauropod agent for end-to-end tests, in a private temp directory (socket,
 * root, state, runc root, CNI conf dir), the way an operator would: `deno run -P=agent
 * main.ts serve --config …`, the production permission set, from which the agent computes
 * its own from the config; the config lets pods log under /var/log/pods and /tmp
 * (`runtime.pod_log_roots`), as crictl's examples and critest do. Disposing it removes every
 * pod it still has, stops it, and removes whatever is left (runc containers, mounts, files) so
 * a failing test leaks nothing.
 *
 * @module
 */

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const decoder = new TextDecoder();

/** How to start a test agent. */
export interface TestAgentOptions {
  /** Extra TOML appended to the generated config (sections must not repeat generated ones). */
  config?: string;
  /** Replaces the generated [cni] section (e.g. a real network config dir). */
  cni?: { confDir: string; binDirs?: string[] };
  /** Replaces the generated [image] section. */
  image?: string;
  /** Extra flags for `serve`. */
  flags?: string[];
  /** Reuse a directory (restart tests); default: a new temp dir. */
  dir?: string;
  /** Log level (default debug). */
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Environment variables for the agent. */
  env?: Record<string, string>;
  /**
   * `runtime.pod_log_roots` besides the pod log dir (default: the production default
   * /var/log/pods, and /tmp as crictl's examples and critest need).
   */
  podLogRoots?: string[];
}

/** A running agent. */
export class TestAgent implements AsyncDisposable {
  readonly dir: string;
  readonly socket: string;
  readonly root: string;
  readonly state: string;
  readonly runcRoot: string;
  readonly configPath: string;
  /** Every line the agent wrote to stderr, across restarts. */
  readonly logs: string[] = [];
  #child: Deno.ChildProcess | undefined;
  #status: Promise<Deno.CommandStatus> | undefined;
  #opts: TestAgentOptions;
  #ownsDir: boolean;

  private constructor(dir: string, ownsDir: boolean, opts: TestAgentOptions) {
    this.dir = dir;
    this.socket = `${dir}/sauropod.sock`;
    this.root = `${dir}/root`;
    // Short: unix socket paths (the shims' live under the state dir) must fit in 108 bytes.
    this.state = `${dir}/s`;
    this.runcRoot = `${dir}/s/runc`;
    this.configPath = `${dir}/config.toml`;
    this.#opts = opts;
    this.#ownsDir = ownsDir;
  }

  /** Starts an agent and waits until its socket answers. */
  static async start(opts: TestAgentOptions = {}): Promise<TestAgent> {
    const dir = opts.dir ?? await shortTempDir();
    await Deno.chmod(dir, 0o755);
    const agent = new TestAgent(dir, opts.dir === undefined, opts);
    await agent.#writeConfig();
    try {
      await agent.launch();
    } catch (err) {
      await agent[Symbol.asyncDispose]();
      throw err;
    }
    return agent;
  }

  async #writeConfig(): Promise<void> {
    const o = this.#opts;
    const cniDir = o.cni?.confDir ?? `${this.dir}/cni`;
    await Deno.mkdir(cniDir, { recursive: true });
    // The kubelet's pod log dir of this node: where e2eEnv puts the pods' logs.
    const podLogs = `pod_logs_dir = "${this.dir}/pod-logs"\npod_log_roots = ${
      JSON.stringify([`${this.dir}/pod-logs`, ...(o.podLogRoots ?? ["/var/log/pods", "/tmp"])])
    }`;
    const extra = o.config ?? "";
    const withRuntime = /^\[runtime\]$/m.test(extra)
      ? extra.replace(/^\[runtime\]$/m, `[runtime]\n${podLogs}`)
      : `${extra}\n[runtime]\n${podLogs}`;
    const toml = [
      `socket = "${this.socket}"`,
      `root = "${this.root}"`,
      `state = "${this.state}"`,
      `shutdown_grace_seconds = 5`,
      `[log]`,
      `level = "${o.logLevel ?? "debug"}"`,
      `[cni]`,
      `conf_dir = "${cniDir}"`,
      `bin_dirs = ${JSON.stringify(o.cni?.binDirs ?? ["/usr/lib/cni", "/opt/cni/bin"])}`,
      o.image ?? "",
      withRuntime,
      "",
    ].join("\n");
    await Deno.writeTextFile(this.configPath, toml);
  }

  /** Replaces the extra config TOML (takes effect at the next {@link launch}). */
  async reconfigure(config: string): Promise<void> {
    this.#opts = { ...this.#opts, config };
    await this.#writeConfig();
  }

  /** Starts the agent process (again, after a stop or kill) and waits for its socket. */
  async launch(): Promise<void> {
    const cmd = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P=agent",
        "--quiet",
        `${ROOT}/main.ts`,
        "serve",
        "--config",
        this.configPath,
        ...(this.#opts.flags ?? []),
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", ...(this.#opts.env ?? {}) },
    });
    const from = this.logs.length;
    const child = cmd.spawn();
    this.#child = child;
    this.#status = child.status;
    void this.#collect(child.stderr);
    void this.#collect(child.stdout);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const done = await Promise.race([
        this.#status.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 50)),
      ]);
      if (done) {
        throw new Error(`agent exited during startup:\n${this.tail(40)}`);
      }
      if (this.logs.slice(from).some((l) => l.includes("serving the CRI"))) return;
      if (await this.#answers()) return;
    }
    throw new Error(`agent did not start within 60 s:\n${this.tail(40)}`);
  }

  /** Whether something accepts connections on the socket (log levels above info say nothing). */
  async #answers(): Promise<boolean> {
    try {
      const conn = await Deno.connect({ transport: "unix", path: this.socket });
      conn.close();
      return true;
    } catch {
      return false;
    }
  }

  async #collect(stream: ReadableStream<Uint8Array>): Promise<void> {
    let buf = "";
    try {
      for await (const chunk of stream) {
        buf += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          this.logs.push(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      }
    } catch {
      // the process went away
    }
    if (buf) this.logs.push(buf);
  }

  /** The agent's pid (while running). */
  get pid(): number {
    if (!this.#child) throw new Error("agent not running");
    return this.#child.pid;
  }

  /** Whether the agent process is running. */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /** The last `n` log lines, for failure messages. */
  tail(n = 30): string {
    return this.logs.slice(-n).join("\n");
  }

  /** Sends `signal` and waits for the exit; returns the status. */
  async stop(signal: Deno.Signal = "SIGTERM", timeoutMs = 30_000): Promise<Deno.CommandStatus> {
    const child = this.#child;
    if (!child || !this.#status) throw new Error("agent not running");
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const status = await Promise.race([
      this.#status,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`agent did not exit after ${signal}`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    this.#child = undefined;
    this.#status = undefined;
    return status;
  }

  /** Disposes: removes leftover pods through the agent, stops it, and wipes its directory. */
  async [Symbol.asyncDispose](): Promise<void> {
    // A test that failed while its agent was stopped leaves pods behind: start the agent
    // again so that it removes them (cgroups, CNI and all), as an operator would.
    if (!this.#child && (await hasEntries(`${this.state}/sandboxes`))) {
      await this.launch().catch(() => {});
    }
    if (this.#child) {
      try {
        await this.#removeAllPods();
      } catch {
        // best effort: the machine-level cleanup below still runs
      }
      try {
        await this.stop("SIGTERM", 15_000);
      } catch {
        try {
          await this.stop("SIGKILL", 5_000);
        } catch {
          // gone
        }
      }
    }
    await cleanupMachine(this);
    if (this.#ownsDir) await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  async #removeAllPods(): Promise<void> {
    const { CriClient } = await import("./cri_client.ts");
    const client = new CriClient(this.socket);
    try {
      const pods = await client.runtime.listPodSandbox({}, { timeoutMs: 10_000 });
      for (const p of pods.items) {
        await client.runtime.removePodSandbox({ podSandboxId: p.id }, { timeoutMs: 60_000 });
      }
    } finally {
      client.close();
    }
  }
}

/** A shim process of a test agent, found in /proc. */
export interface ShimProcess {
  readonly pid: number;
  /** Its state dir (`<state>/shims/<id>`). */
  readonly stateDir: string;
  /** Started ahead and never given a container: its state dir has no init.pid. */
  readonly spare: boolean;
}

/**
 * The live shim processes of the agent whose state dir is `state`: every process whose
 * command line is a shim's with its `--state-dir` under `state`.
 */
export async function shimProcesses(state: string): Promise<ShimProcess[]> {
  const found: ShimProcess[] = [];
  for await (const e of readDirSafe("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = await Deno.readTextFile(`/proc/${e}/cmdline`).catch(() => "");
    if (!cmd.includes("\0shim\0")) continue;
    const args = cmd.split("\0");
    const i = args.indexOf("--state-dir");
    const stateDir = i >= 0 ? args[i + 1] ?? "" : "";
    if (!stateDir.startsWith(`${state}/shims/`)) continue;
    const spare = await Deno.stat(`${stateDir}/init.pid`).then(() => false, () => true);
    found.push({ pid: Number(e), stateDir, spare });
  }
  return found;
}

/**
 * Removes what a dead or misbehaving agent may have left: shims (by their pid files, and
 * any other shim process of this agent, such as a spare whose pid file was not yet written
 * when the agent stopped), runc containers under its runc root, and mounts under its
 * directory.
 */
export async function cleanupMachine(
  agent: { dir: string; runcRoot: string; state: string },
): Promise<void> {
  const pids = new Set<number>();
  // Shims of this agent: their pid files live under <state>/shims/<id>/.
  for await (const e of readDirSafe(`${agent.state}/shims`)) {
    for (const f of ["shim.pid", "init.pid"]) {
      const pid = Number(
        (await Deno.readTextFile(`${agent.state}/shims/${e}/${f}`).catch(() => "")).trim(),
      );
      if (pid > 1) pids.add(pid);
    }
  }
  for (const s of await shimProcesses(agent.state)) pids.add(s.pid);
  for (const pid of pids) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  const list = await new Deno.Command("runc", {
    args: ["--root", agent.runcRoot, "list", "-q"],
    stderr: "null",
  }).output().catch(() => undefined);
  for (const id of decoder.decode(list?.stdout ?? new Uint8Array()).split("\n").filter(Boolean)) {
    await new Deno.Command("runc", {
      args: ["--root", agent.runcRoot, "delete", "--force", id],
      stderr: "null",
    })
      .output().catch(() => {});
  }
  const mounts = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
    .map((l) => (l.split(" ")[4] ?? "").replace(/\\040/g, " "))
    .filter((mp) => mp.startsWith(`${agent.dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const mp of mounts) {
    await new Deno.Command("umount", { args: ["-l", mp], stderr: "null" }).output().catch(() => {});
  }
}

async function hasEntries(dir: string): Promise<boolean> {
  for await (const _ of readDirSafe(dir)) return true;
  return false;
}

/** A fresh /tmp/sp-XXXXXX directory: short, because socket paths under it must be. */
async function shortTempDir(): Promise<string> {
  for (;;) {
    const dir = `/tmp/sp-${crypto.randomUUID().slice(0, 6)}`;
    try {
      await Deno.mkdir(dir, { mode: 0o755 });
      return dir;
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
  }
}

async function* readDirSafe(dir: string): AsyncGenerator<string> {
  try {
    for await (const e of Deno.readDir(dir)) yield e.name;
  } catch {
    // missing
  }
}
