/**
 * `systemd-analyze verify` for tests of unit files. systemd need not be PID 1: the tool
 * loads a unit and its dependencies from disk. It exits 0 even for unknown keys and
 * unparsable values (it only warns), so its complaints are what a test looks at.
 *
 * @module
 */

/** The absolute path of `name` on PATH, if any. */
export async function which(name: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if ((await Deno.stat(`${dir}/${name}`)).isFile) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why `systemd-analyze verify` cannot run here, or undefined when it can. */
export async function verifySkipReason(): Promise<string | undefined> {
  return (await which("systemd-analyze"))
    ? undefined
    : "systemd-analyze is not installed (apt-get install systemd)";
}

/** Runs `systemd-analyze verify unit` and returns its exit code and every line about `unit`. */
export async function verifyUnit(unit: string): Promise<{ code: number; complaints: string[] }> {
  const out = await new Deno.Command("systemd-analyze", {
    args: ["verify", unit],
    stdout: "piped",
    stderr: "piped",
    // Piped output would otherwise go to the journal, where there is one.
    env: { SYSTEMD_LOG_COLOR: "0", SYSTEMD_LOG_TARGET: "console" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const name = unit.slice(unit.lastIndexOf("/") + 1);
  return {
    code: out.code,
    complaints: text.split("\n").filter((l) => l.includes(name) || l.includes(unit)),
  };
}
