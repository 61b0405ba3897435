// test-permissions: --allow-read
import { assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { criuCheckReason, parseCriuVersion, probeCheckpoint, type Runner } from "./probe.ts";

const VDSO = [
  "Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds",
  "Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable",
  "Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.",
  "Error (criu/crtools.c:260): Could not initialize kernel features detection.",
].join("\n");

Deno.test("parseCriuVersion() reads criu --version, with or without a GitID line", () => {
  assertEquals(parseCriuVersion("Version: 3.17.1\n"), { text: "3.17.1", number: 31701 });
  assertEquals(parseCriuVersion("Version: 3.19\nGitID: v3.19-1-g\n"), {
    text: "3.19",
    number: 31900,
  });
  assertEquals(parseCriuVersion("criu 3\n"), undefined);
});

Deno.test("criuCheckReason() keeps CRIU's first and last errors without source locations", () => {
  assertEquals(
    criuCheckReason(VDSO),
    "vdso: Unexpected rt vDSO area bounds; Could not initialize kernel features detection.",
  );
  assertEquals(criuCheckReason("", "some warning\n"), "some warning");
});

function fake(answers: Record<string, { code: number; stdout?: string; stderr?: string }>): Runner {
  return (bin, args) => {
    const key = `${bin.split("/").pop()} ${args.join(" ")}`;
    const a = answers[key] ?? { code: 1, stderr: `unexpected ${key}` };
    return Promise.resolve({ code: a.code, stdout: a.stdout ?? "", stderr: a.stderr ?? "" });
  };
}

// /bin/sh stands in for criu: the probe only needs an executable to name.
const criuPaths = ["/bin/sh"];

Deno.test("probeCheckpoint(): a failing criu check makes it unusable with CRIU's reason", async () => {
  const cap = await probeCheckpoint("/usr/sbin/runc", {
    criuPaths,
    run: fake({
      "sh --version": { code: 0, stdout: "Version: 3.17.1\n" },
      "sh check": { code: 1, stderr: VDSO },
    }),
  });
  assertEquals(cap.usable, false);
  assertEquals(cap.criuVersion, "3.17.1");
  assertStringIncludes(cap.reason, "criu check failed: vdso: Unexpected rt vDSO area bounds");
});

Deno.test("probeCheckpoint(): old CRIU, missing CRIU, crun without +CRIU are unusable; else usable with features", async () => {
  const old = await probeCheckpoint("runc", {
    criuPaths,
    run: fake({ "sh --version": { code: 0, stdout: "Version: 3.15\n" } }),
  });
  assertStringIncludes(old.reason, "older than 3.16");
  const none = await probeCheckpoint("runc", { criuPaths: ["/nonexistent/criu"] });
  assertStringIncludes(none.reason, "not installed");
  const good = {
    "sh --version": { code: 0, stdout: "Version: 3.17.1\n" },
    "sh check": { code: 0, stdout: "Looks good.\n" },
    "sh check --feature timens": { code: 0 },
  };
  const crun = await probeCheckpoint("/usr/bin/crun", {
    criuPaths,
    run: fake({
      ...good,
      "crun checkpoint --help": { code: 0 },
      "crun --version": { code: 0, stdout: "crun version 1.8.1\n+SYSTEMD +SELINUX +APPARMOR\n" },
    }),
  });
  assertStringIncludes(crun.reason, "without CRIU");
  const runc = await probeCheckpoint("/usr/sbin/runc", {
    criuPaths,
    run: fake({ ...good, "runc checkpoint --help": { code: 0 } }),
  });
  assertEquals(runc.usable, true);
  assertEquals(runc.features, ["timens"]);
});
