/**
 * A small leveled logger writing text or JSON lines to stderr (journald reads it).
 *
 * Loggers carry fields (`{ rpc, podId, containerId }`) and are passed down explicitly;
 * library code never uses `console.*`.
 *
 * @module
 */

/** Severity, lowest first. */
export type Level = "debug" | "info" | "warn" | "error";
/** Output format: `text` for humans, `json` for collectors. */
export type LogFormat = "text" | "json";
/** Structured context attached to each line. */
export type Fields = Record<string, unknown>;

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Parses a level name, or throws a message naming the bad value. */
export function parseLevel(s: string): Level {
  if (s === "debug" || s === "info" || s === "warn" || s === "error") return s;
  throw new Error(`unknown log level "${s}" (want debug, info, warn or error)`);
}

/** Where lines go; tests pass an array sink. */
export type Sink = (line: string) => void;

const encoder = new TextEncoder();
/** The default sink: one synchronous write per line to stderr. */
export const stderrSink: Sink = (line: string): void => {
  try {
    Deno.stderr.writeSync(encoder.encode(line + "\n"));
  } catch {
    // stderr closed (e.g. a detached shim whose parent went away): nothing to do.
  }
};

/** The level a logger and every logger derived from it share (a reload changes it). */
interface LevelCell {
  level: Level;
  min: number;
}

/** A logger with fixed fields; cheap to derive with {@link Logger.with}. */
export class Logger {
  /** Shared with every logger derived by {@link with}: set once, by the constructor or there. */
  #cell: LevelCell;
  readonly #format: LogFormat;
  readonly #fields: Fields;
  readonly #sink: Sink;

  /** Creates a logger; most code receives one instead of building it. */
  constructor(
    opts: { level?: Level; format?: LogFormat; fields?: Fields; sink?: Sink } = {},
  ) {
    const level = opts.level ?? "info";
    this.#cell = { level, min: ORDER[level] };
    this.#format = opts.format ?? "text";
    this.#fields = opts.fields ?? {};
    this.#sink = opts.sink ?? stderrSink;
  }

  /** A logger with `fields` added to every line; it follows this one's level. */
  with(fields: Fields): Logger {
    const child = new Logger({
      format: this.#format,
      fields: { ...this.#fields, ...fields },
      sink: this.#sink,
    });
    child.#cell = this.#cell;
    return child;
  }

  /** The lowest level written. */
  get level(): Level {
    return this.#cell.level;
  }

  /** Changes the lowest level written, for this logger and every one derived from it. */
  setLevel(level: Level): void {
    this.#cell.level = level;
    this.#cell.min = ORDER[level];
  }

  /** True when `level` would be written (skip building expensive messages otherwise). */
  enabled(level: Level): boolean {
    return ORDER[level] >= this.#cell.min;
  }

  /** Detail for developers: each RPC with its duration and code. */
  debug(msg: string, fields?: Fields): void {
    this.#log("debug", msg, fields);
  }
  /** Normal operation an operator wants to see. */
  info(msg: string, fields?: Fields): void {
    this.#log("info", msg, fields);
  }
  /** Something unexpected that the agent worked around. */
  warn(msg: string, fields?: Fields): void {
    this.#log("warn", msg, fields);
  }
  /** A failure that needs attention. */
  error(msg: string, fields?: Fields): void {
    this.#log("error", msg, fields);
  }

  #log(level: Level, msg: string, fields?: Fields): void {
    if (ORDER[level] < this.#cell.min) return;
    const all = fields ? { ...this.#fields, ...fields } : this.#fields;
    const time = new Date().toISOString();
    if (this.#format === "json") {
      this.#sink(JSON.stringify({ time, level, msg, ...normalise(all) }));
      return;
    }
    let line = `${time} ${level.toUpperCase().padEnd(5)} ${msg}`;
    for (const [k, v] of Object.entries(all)) {
      if (v === undefined) continue;
      line += ` ${k}=${textValue(v)}`;
    }
    this.#sink(line);
  }
}

function normalise(fields: Fields): Fields {
  const out: Fields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (v instanceof Error) out[k] = v.message;
    else if (typeof v === "bigint") out[k] = v.toString();
    else out[k] = v;
  }
  return out;
}

function textValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === "string") return /^[\w./:@+-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === "bigint") return v.toString();
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** A logger that drops everything (tests, and code paths that must stay quiet). */
export const nullLogger: Logger = new Logger({ level: "error", sink: () => {} });
