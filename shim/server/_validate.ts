/**
 * Checks of what arrives on the shim's socket: every field's type and range, with errors
 * that name the field. The agent is trusted, but a version skew or a bug must fail loudly
 * here rather than as a confusing runc error.
 *
 * @module
 */
import { invalidArgument } from "../../errors/mod.ts";
import {
  type CheckpointParams,
  type CreateParams,
  type CriuFlags,
  type ExecSpec,
  type Hello,
  isRecord,
  isRuntimeOption,
  type Op,
  OPS,
  type Request,
  type RestoreSpec,
} from "../protocol.ts";

function parseJson(line: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw invalidArgument(`${what} is not JSON`);
  }
  if (!isRecord(v)) throw invalidArgument(`${what} is not a JSON object`);
  return v;
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== "string" || v === "") {
    throw invalidArgument(`${where}.${key} must be a non-empty string`);
  }
  return v;
}

function absPath(o: Record<string, unknown>, key: string, where: string): string {
  const v = str(o, key, where);
  if (!v.startsWith("/") || v.includes("\0")) {
    throw invalidArgument(`${where}.${key} must be an absolute path, got ${JSON.stringify(v)}`);
  }
  return v;
}

function bool(o: Record<string, unknown>, key: string, where: string, def?: boolean): boolean {
  const v = o[key];
  if (v === undefined && def !== undefined) return def;
  if (typeof v !== "boolean") throw invalidArgument(`${where}.${key} must be a boolean`);
  return v;
}

function int(
  o: Record<string, unknown>,
  key: string,
  where: string,
  min: number,
  max: number,
): number {
  const v = o[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw invalidArgument(`${where}.${key} must be an integer in ${min}..${max}`);
  }
  return v;
}

function strings(o: Record<string, unknown>, key: string, where: string): string[] | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) {
    throw invalidArgument(`${where}.${key} must be a list of strings`);
  }
  return v as string[];
}

function record(v: unknown, where: string): Record<string, unknown> {
  if (!isRecord(v)) throw invalidArgument(`${where} must be an object`);
  return v;
}

/** Validates the parameters of `create`. */
export function parseCreateParams(v: unknown): CreateParams {
  const p = record(v, "create");
  const rt = record(p.runtime, "create.runtime");
  const logPath = p.logPath === undefined ? undefined : absPath(p, "logPath", "create");
  return {
    bundle: absPath(p, "bundle", "create"),
    runtime: {
      binary: absPath(rt, "binary", "create.runtime"),
      root: absPath(rt, "root", "create.runtime"),
      systemdCgroup: bool(rt, "systemdCgroup", "create.runtime"),
      callTimeoutMs: int(rt, "callTimeoutMs", "create.runtime", 1, 24 * 3600 * 1000),
      ...runtimeOptions(rt),
    },
    ...(logPath ? { logPath } : {}),
    tty: bool(p, "tty", "create"),
    stdin: bool(p, "stdin", "create"),
    stdinOnce: bool(p, "stdinOnce", "create", false),
    ...(p.restore === undefined
      ? {}
      : { restore: parseRestoreSpec(record(p.restore, "create.restore")) }),
  };
}

function criuFlags(o: Record<string, unknown>, where: string): CriuFlags {
  return {
    tcpEstablished: bool(o, "tcpEstablished", where, false),
    extUnixSk: bool(o, "extUnixSk", where, false),
    shellJob: bool(o, "shellJob", where, false),
    fileLocks: bool(o, "fileLocks", where, false),
  };
}

function parseRestoreSpec(o: Record<string, unknown>): RestoreSpec {
  return {
    imagePath: absPath(o, "imagePath", "create.restore"),
    workPath: absPath(o, "workPath", "create.restore"),
    ...criuFlags(o, "create.restore"),
  };
}

/** Validates the parameters of `checkpoint`. */
export function parseCheckpointParams(o: Record<string, unknown>): CheckpointParams {
  return {
    imagePath: absPath(o, "imagePath", "checkpoint"),
    workPath: absPath(o, "workPath", "checkpoint"),
    leaveRunning: bool(o, "leaveRunning", "checkpoint", true),
    timeoutMs: int(o, "timeoutMs", "checkpoint", 1, 24 * 3600 * 1000),
    ...criuFlags(o, "checkpoint"),
  };
}

/** Validates an exec's command. */
export function parseExecSpec(v: unknown): ExecSpec {
  const e = record(v, "exec");
  const args = strings(e, "args", "exec");
  if (!args || args.length === 0) throw invalidArgument("exec.args must name a command");
  const env = strings(e, "env", "exec");
  if (env?.some((x) => !x.includes("="))) {
    throw invalidArgument("exec.env entries must be KEY=value");
  }
  const cwd = e.cwd === undefined ? undefined : absPath(e, "cwd", "exec");
  const timeoutMs = e.timeoutMs === undefined
    ? undefined
    : int(e, "timeoutMs", "exec", 0, Number.MAX_SAFE_INTEGER);
  const outputLimit = e.outputLimit === undefined
    ? undefined
    : int(e, "outputLimit", "exec", 0, Number.MAX_SAFE_INTEGER);
  return {
    args,
    ...(env ? { env } : {}),
    ...(cwd ? { cwd } : {}),
    tty: bool(e, "tty", "exec"),
    stdin: bool(e, "stdin", "exec"),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(outputLimit !== undefined ? { outputLimit } : {}),
  };
}

/** Parses and validates a hello line. */
export function parseHello(line: string): Hello {
  const h = parseJson(line, "hello");
  const v = int(h, "v", "hello", 0, 0xffff);
  const id = str(h, "id", "hello");
  switch (h.kind) {
    case "control":
      return { v, id, kind: "control" };
    case "attach":
      return {
        v,
        id,
        kind: "attach",
        stdin: bool(h, "stdin", "hello"),
        stdout: bool(h, "stdout", "hello"),
        stderr: bool(h, "stderr", "hello"),
      };
    case "exec":
      return { v, id, kind: "exec", exec: parseExecSpec(h.exec) };
    default:
      throw invalidArgument(`hello.kind must be control, attach or exec`);
  }
}

/** Parses and validates a control request line. */
export function parseRequest(line: string): Request {
  const r = parseJson(line, "request");
  const seq = int(r, "seq", "request", 0, Number.MAX_SAFE_INTEGER);
  const op = r.op;
  if (typeof op !== "string" || !(OPS as readonly string[]).includes(op)) {
    throw invalidArgument(`request.op must be one of ${OPS.join(", ")}`);
  }
  const params = r.params === undefined ? {} : record(r.params, `${op}.params`);
  switch (op as Op) {
    case "create":
      return { seq, op: "create", params: parseCreateParams(params) };
    case "kill": {
      const signal = int(params, "signal", "kill", 1, 64);
      const all = bool(params, "all", "kill", false);
      return { seq, op: "kill", params: { signal, all } };
    }
    case "resize":
      return {
        seq,
        op: "resize",
        params: {
          width: int(params, "width", "resize", 0, 0xffff),
          height: int(params, "height", "resize", 0, 0xffff),
        },
      };
    case "update":
      return { seq, op: "update", params: { resources: record(params.resources, "resources") } };
    case "checkpoint":
      return { seq, op: "checkpoint", params: parseCheckpointParams(params) };
    default:
      return { seq, op: op as Op, params: {} } as Request;
  }
}

/** `create.runtime.options`: at most 32 `--flag[=value]` strings, when present. */
function runtimeOptions(rt: Record<string, unknown>): { options?: string[] } {
  const v = rt.options;
  if (v === undefined) return {};
  if (!Array.isArray(v) || v.length > 32 || !v.every(isRuntimeOption)) {
    throw invalidArgument("create.runtime.options must be at most 32 --flag[=value] strings");
  }
  return { options: [...v] };
}
