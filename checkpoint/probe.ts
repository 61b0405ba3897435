/**
 * Can this node checkpoint and restore containers? Probed, never assumed: CRIU present, its
 * version new enough (3.16, what CRI-O, Podman and containerd require for pods), `criu check`
 * passing on this kernel (Debian's 3.17 installs fine and then fails every dump on kernels
 * with `[vvar_vclock]`, 6.13+), and the OCI runtime built with checkpoint support (runc is;
 * Debian's crun is not: `crun checkpoint` is an unknown command there).
 *
 * The answer's `reason` is CRIU's own words (its last `Error` lines), which Status,
 * `sauropod check` and the refused RPCs repeat.
 *
 * @module
 */
import { which } from "../lib/exec.ts";

/** CRIU's minimum: 3.16 (`PodCriuVersion` in go-criu users). */
export const MIN_CRIU_VERSION = 31600;
/** Where Debian installs CRIU; looked up on PATH first. */
export const CRIU_PATHS = ["criu", "/usr/sbin/criu"];
/** A probe command running longer than this counts as failed. */
const PROBE_TIMEOUT_MS = 20_000;

/** What the probe found. */
export interface CheckpointCapability {
  /** Checkpoint and restore can run. */
  usable: boolean;
  /** Why not (empty when usable): CRIU's or the runtime's own message. */
  reason: string;
  /** The CRIU binary found, if any. */
  criu?: string;
  /** `criu --version`'s version, e.g. "3.17.1". */
  criuVersion?: string;
  /** Optional CRIU features `criu check --feature` reported present. */
  features?: string[];
}

/** The optional features worth knowing about (each is `criu check --feature <name>`). */
const FEATURES = ["external_net_ns", "network_lock_nftables", "timens"];

/** A finished command. */
export interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** How a command is run (the tests pass a fake). */
export type Runner = (bin: string, args: string[]) => Promise<Output>;

/** Runs `bin args` with a deadline; a missing or unrunnable binary is code 127. */
export async function runCommand(bin: string, args: string[]): Promise<Output> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), PROBE_TIMEOUT_MS);
  try {
    const out = await new Deno.Command(bin, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: ac.signal,
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } catch (err) {
    return { code: 127, stdout: "", stderr: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** "Version: 3.17.1" → 31701; undefined when the output has no version line. */
export function parseCriuVersion(out: string): { text: string; number: number } | undefined {
  const m = out.match(/^Version:\s*(\d+)\.(\d+)(?:\.(\d+))?/m);
  if (!m) return undefined;
  const [maj, min, sub] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  return {
    text: m[3] ? `${maj}.${min}.${sub}` : `${maj}.${min}`,
    number: maj * 10000 + min * 100 + sub,
  };
}

/**
 * The reason in a failed `criu check`: its `Error (file:line): …` lines without the source
 * location, the first one (the cause; the later ones are its consequences) and the last,
 * at most 300 characters; else the last non-empty line.
 */
export function criuCheckReason(stderr: string, stdout = ""): string {
  const lines = `${stderr}\n${stdout}`.split("\n").map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => /^Error\b/.test(l)).map((l) =>
    l.replace(/^Error\s*(\([^)]*\))?:\s*/, "")
  );
  const picked = errors.length === 0
    ? [lines.at(-1) ?? "no output"]
    : errors.length === 1
    ? errors
    : [errors[0]!, errors.at(-1)!];
  const text = picked.join("; ");
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/** Probes CRIU and the OCI runtime `runtimeBinary`. */
export async function probeCheckpoint(
  runtimeBinary: string,
  opts: { run?: Runner; criuPaths?: string[] } = {},
): Promise<CheckpointCapability> {
  const run = opts.run ?? runCommand;
  let criu: string | undefined;
  for (const p of opts.criuPaths ?? CRIU_PATHS) {
    criu = which(p);
    if (criu) break;
  }
  if (!criu) return { usable: false, reason: "criu is not installed (apt-get install -y criu)" };
  const v = await run(criu, ["--version"]);
  const version = parseCriuVersion(v.stdout);
  if (v.code !== 0 || !version) {
    return {
      usable: false,
      criu,
      reason: `${criu} --version failed: ${criuCheckReason(v.stderr, v.stdout)}`,
    };
  }
  const base = { criu, criuVersion: version.text };
  if (version.number < MIN_CRIU_VERSION) {
    return { ...base, usable: false, reason: `criu ${version.text} is older than 3.16` };
  }
  const check = await run(criu, ["check"]);
  if (check.code !== 0) {
    return {
      ...base,
      usable: false,
      reason: `criu check failed: ${criuCheckReason(check.stderr, check.stdout)}`,
    };
  }
  const help = await run(runtimeBinary, ["checkpoint", "--help"]);
  if (help.code !== 0) {
    return {
      ...base,
      usable: false,
      reason: `${runtimeBinary} cannot checkpoint: ${criuCheckReason(help.stderr, help.stdout)}`,
    };
  }
  if (/crun$/.test(runtimeBinary)) {
    const rv = await run(runtimeBinary, ["--version"]);
    if (!/\+CRIU\b/.test(rv.stdout)) {
      return { ...base, usable: false, reason: `${runtimeBinary} is built without CRIU (+CRIU)` };
    }
  }
  const features: string[] = [];
  for (const f of FEATURES) {
    if ((await run(criu, ["check", "--feature", f])).code === 0) features.push(f);
  }
  return { ...base, usable: true, reason: "", features };
}

/**
 * The probe, re-run at most every `ttlMs` while it succeeds and on every ask after a failure
 * once `retryMs` passed (criu installed or fixed later is noticed without a restart).
 */
export class CheckpointProbe {
  readonly #probe: () => Promise<CheckpointCapability>;
  readonly #ttlMs: number;
  readonly #retryMs: number;
  #at = -Infinity;
  #value: Promise<CheckpointCapability> | undefined;

  /** Wraps `probe`. */
  constructor(
    probe: () => Promise<CheckpointCapability>,
    opts: { ttlMs?: number; retryMs?: number } = {},
  ) {
    this.#probe = probe;
    this.#ttlMs = opts.ttlMs ?? 10 * 60_000;
    this.#retryMs = opts.retryMs ?? 30_000;
  }

  /** The capability, probed when stale. */
  async get(): Promise<CheckpointCapability> {
    const now = performance.now();
    if (this.#value) {
      const last = await this.#value;
      if (now - this.#at < (last.usable ? this.#ttlMs : this.#retryMs)) return last;
    }
    this.#at = now;
    this.#value = this.#probe();
    return await this.#value;
  }
}
