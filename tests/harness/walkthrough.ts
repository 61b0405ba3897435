/**
 * A README walkthrough as data: the commands of the first `sh` block of a section, each with
 * the output README says it prints, and the comparison of that output with what a run
 * printed.
 *
 * The block's convention: a line that is not a comment is a command; the `#` lines right
 * after it are what the terminal shows when it runs (`# ` removed); inside them `<…>` stands
 * for what differs from run to run (ids, times). Columns are compared with any run of blanks
 * matching any other, so a table can be shown as crictl aligns it.
 *
 * @module
 */

/** One command of a walkthrough. */
export interface Step {
  /** 1-based line number in the README. */
  readonly lineNo: number;
  /** The command as written. */
  readonly line: string;
  /** What README says the terminal shows, one entry per line. */
  readonly expected: readonly string[];
}

/**
 * The first ```<lang> block under the `## <title>` heading of `markdown`: its lines and the
 * 1-based README line number of the first.
 */
export function codeBlock(
  markdown: string,
  title: string,
  lang: string,
): { firstLineNo: number; lines: string[] } {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l === `## ${title}`);
  if (start < 0) throw new Error(`README has no "## ${title}" section`);
  let i = start + 1;
  while (i < lines.length && lines[i] !== "```" + lang) {
    if (lines[i]!.startsWith("## ")) throw new Error(`"## ${title}" has no ${lang} block`);
    i++;
  }
  if (i === lines.length) throw new Error(`"## ${title}" has no ${lang} block`);
  const end = lines.indexOf("```", i + 1);
  if (end < 0) throw new Error(`"## ${title}": the ${lang} block is not closed`);
  return { firstLineNo: i + 2, lines: lines.slice(i + 1, end) };
}

/** The steps of the first ```sh block under the `## <title>` heading of `markdown`. */
export function walkthrough(markdown: string, title: string): Step[] {
  const block = codeBlock(markdown, title, "sh");
  const steps: { lineNo: number; line: string; expected: string[] }[] = [];
  for (const [n, l] of block.lines.entries()) {
    const i = block.firstLineNo + n - 1;
    if (l.trim() === "") continue;
    if (l.startsWith("#")) {
      const last = steps.at(-1);
      if (!last) throw new Error(`README line ${i + 1}: output before any command: ${l}`);
      last.expected.push(l.replace(/^# ?/, ""));
    } else {
      steps.push({ lineNo: i + 1, line: l, expected: [] });
    }
  }
  if (steps.length === 0) throw new Error(`"## ${title}": the sh block has no command`);
  return steps;
}

function lineRe(expected: string): RegExp {
  const parts = expected.trim().split(/(<[^<>]+>)/);
  const body = parts.map((p, i) =>
    i % 2 === 1 ? ".+?" : p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+")
  ).join("");
  return new RegExp(`^${body}$`);
}

/**
 * Compares what a command printed with what README says it prints: the same number of lines,
 * each matching its README line. Returns undefined when they agree, else what differs.
 */
export function outputMismatch(expected: readonly string[], printed: string): string | undefined {
  const actual = printed.replace(/\n$/, "").split("\n");
  if (printed === "") actual.length = 0;
  if (actual.length !== expected.length) {
    return `printed ${actual.length} line(s), README shows ${expected.length}`;
  }
  for (let i = 0; i < actual.length; i++) {
    if (!lineRe(expected[i]!).test(actual[i]!.trim())) {
      return `line ${i + 1} differs: printed ${JSON.stringify(actual[i])}, README shows ${
        JSON.stringify(expected[i])
      }`;
    }
  }
  return undefined;
}
