/**
 * A strict reader of the Prometheus text format (0.0.4) for tests: it checks the structure
 * the format requires (one HELP and one TYPE per family, before its samples; samples named
 * after their family; well-formed labels and values) and returns the families, so a test
 * can look values up.
 *
 * @module
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One family: its HELP, TYPE and samples. */
export interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Parses `text`, throwing on anything the format does not allow. */
export function parsePromText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new Error("the exposition must end with a newline");
  for (const [i, line] of lines.slice(0, -1).entries()) {
    const where = `line ${i + 1}: ${line}`;
    if (line === "") continue;
    const meta = line.match(/^# (HELP|TYPE) (\S+) ?(.*)$/);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name: ${where}`);
      let f = families.get(name);
      if (!f) {
        f = { name, help: "", type: "untyped", samples: [] };
        families.set(name, f);
      } else if (f !== current) {
        throw new Error(`family ${name} appears twice: ${where}`);
      }
      if (f.samples.length > 0) throw new Error(`${kind} after samples: ${where}`);
      if (kind === "HELP") {
        if (f.help !== "") throw new Error(`second HELP: ${where}`);
        f.help = rest;
      } else {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) {
          throw new Error(`bad TYPE: ${where}`);
        }
        f.type = rest as Family["type"];
      }
      current = f;
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/);
    if (!m) throw new Error(`bad sample: ${where}`);
    const [, name, labelText, valueText] = m as unknown as [
      string,
      string,
      string | undefined,
      string,
    ];
    if (!current || !belongs(name, current)) {
      throw new Error(`sample outside its family: ${where}`);
    }
    const value = valueText === "+Inf"
      ? Infinity
      : valueText === "-Inf"
      ? -Infinity
      : valueText === "NaN"
      ? NaN
      : Number(valueText);
    if (Number.isNaN(value) && valueText !== "NaN") throw new Error(`bad value: ${where}`);
    current.samples.push({ name, labels: parseLabels(labelText ?? "", where), value });
  }
  return families;
}

function belongs(sample: string, f: Family): boolean {
  if (sample === f.name) return true;
  if (f.type === "histogram") {
    return ["_bucket", "_sum", "_count"].some((s) => sample === f.name + s);
  }
  if (f.type === "summary") return ["_sum", "_count"].some((s) => sample === f.name + s);
  return false;
}

function parseLabels(text: string, where: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === "") return out;
  let rest = text.slice(1, -1);
  while (rest.length > 0) {
    const m = rest.match(/^([^=]+)="((?:[^"\\]|\\[\\"n])*)"(,|$)/);
    if (!m) throw new Error(`bad labels: ${where}`);
    const [all, key, raw] = m as unknown as [string, string, string];
    if (!LABEL.test(key)) throw new Error(`bad label name ${key}: ${where}`);
    if (key in out) throw new Error(`label ${key} twice: ${where}`);
    out[key] = raw.replace(/\\(["\\n])/g, (_, c: string) => (c === "n" ? "\n" : c));
    rest = rest.slice(all.length);
  }
  return out;
}

/** The value of the sample `name` whose labels include `labels`, or undefined. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
