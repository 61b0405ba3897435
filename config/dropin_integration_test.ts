/**
 * `config.d/*.toml` drop-ins on real files: lexical order, the merge rules DESIGN.md states
 * (scalars replace, `false`/`0`/`""` too; tables merge key by key; lists replace), where each
 * key came from, and a bad drop-in refused by file and key.
 */
import { assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { SauropodError } from "../errors/mod.ts";
import { loadConfigWithSources } from "./mod.ts";
import { effectiveConfig } from "./effective.ts";

async function withConfig(
  main: string | undefined,
  dropIns: Record<string, string>,
  fn: (path: string, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-dropin-" });
  try {
    if (main !== undefined) await Deno.writeTextFile(`${dir}/config.toml`, main);
    await Deno.mkdir(`${dir}/config.d`);
    for (const [name, text] of Object.entries(dropIns)) {
      await Deno.writeTextFile(`${dir}/config.d/${name}`, text);
    }
    await fn(`${dir}/config.toml`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("drop-ins apply in lexical order over the main file; the last writer of a key wins", async () => {
  await withConfig(
    [
      `shutdown_grace_seconds = 30`,
      `[log]`,
      `level = "debug"`,
      `[image]`,
      `insecure_registries = ["a:5000", "b:5000"]`,
      `max_concurrent_downloads = 5`,
      `[image.mirrors]`,
      `"docker.io" = ["http://m1"]`,
      `"quay.io" = ["http://q1"]`,
      `[image.auths."r.example"]`,
      `username = "u"`,
      `password = "old"`,
    ].join("\n"),
    {
      // 10 before 9: byte-wise order, as ls sorts in the C locale.
      "10-b.toml": `[log]\nlevel = "warn"\n[image.mirrors]\n"docker.io" = ["http://m2"]\n`,
      "9-a.toml": `[log]\nlevel = "error"\n[image]\ninsecure_registries = ["c:5000"]\n`,
      "20-zero.toml": `shutdown_grace_seconds = 0\n[image.auths."r.example"]\npassword = "new"\n`,
      "README": `not toml, not *.toml: ignored`,
      ".hidden.toml": `nonsense =`,
    },
    async (path, dir) => {
      const { config, files, sources } = await loadConfigWithSources({ path, explicit: true });
      assertEquals(files, [
        path,
        `${dir}/config.d/10-b.toml`,
        `${dir}/config.d/20-zero.toml`,
        `${dir}/config.d/9-a.toml`,
      ]);
      assertEquals(config.log.level, "error"); // 9-a.toml is last
      assertEquals(config.shutdownGraceSeconds, 0); // a zero replaces, too
      assertEquals(config.image.insecureRegistries, ["c:5000"]); // lists replace
      assertEquals(config.image.maxConcurrentDownloads, 5); // untouched keys stay
      // Tables merge key by key: one host replaced, the other kept; one field of a host.
      assertEquals(config.image.mirrors, { "docker.io": ["http://m2"], "quay.io": ["http://q1"] });
      assertEquals(config.image.auths["r.example"], { username: "u", password: "new" });
      assertEquals(sources.get("log.level"), `${dir}/config.d/9-a.toml`);
      assertEquals(sources.get("image.max_concurrent_downloads"), path);
      assertEquals(sources.get('image.mirrors."docker.io"'), `${dir}/config.d/10-b.toml`);

      const shown = Object.fromEntries(
        effectiveConfig({ config, files, sources }).map((e) => [e.key, e]),
      );
      assertEquals(shown["log.level"]?.source, `${dir}/config.d/9-a.toml`);
      assertEquals(shown["log.format"]?.source, undefined); // at its default
      assertEquals(shown["image.mirrors"]?.source, `${path}, ${dir}/config.d/10-b.toml`);
      assertEquals(shown["image.auths"]?.value, {
        "r.example": { username: "<redacted>", password: "<redacted>" },
      });
    },
  );
});

Deno.test("flags win over every file; drop-ins apply without a main file", async () => {
  await withConfig(
    undefined,
    { "50-x.toml": `[log]\nlevel = "warn"\nformat = "json"\n` },
    async (path) => {
      const { config, files, sources } = await loadConfigWithSources({
        path,
        overrides: { "log.level": "debug" },
      });
      assertEquals(files.length, 1);
      assertEquals([config.log.level, config.log.format], ["debug", "json"]);
      assertEquals(sources.get("log.level"), "flags");
    },
  );
});

Deno.test("a malformed drop-in is refused naming its file and key; nothing is merged", async () => {
  for (
    const [text, expect] of ([
      [`[image]\nmirors = {}\n`, 'config.d/30-bad.toml: unknown key "image.mirors"'],
      [`[log]\nlevel = 3\n`, 'config.d/30-bad.toml: "log.level" must be one of'],
      [`[image\n`, "config.d/30-bad.toml: not valid TOML"],
      [`[runtime]\npod_log_roots = ["/var/log/../x"]\n`, '"runtime.pod_log_roots"[0]'],
      [
        `[runtime]\npod_log_roots = ["/srv/logs"]\n`,
        '"runtime.pod_logs_dir" "/var/log/pods" is not beneath any of "runtime.pod_log_roots"',
      ],
    ] as const)
  ) {
    await withConfig(`[log]\nlevel = "info"\n`, { "30-bad.toml": text }, async (path) => {
      const err = await assertRejects(() => loadConfigWithSources({ path }), SauropodError);
      assertStringIncludes(err.message, expect);
    });
  }
});
