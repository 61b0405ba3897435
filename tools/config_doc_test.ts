// test-permissions: --allow-read=deploy
import { parse as parseToml } from "smol-toml";
import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { defaultConfig, resolveConfig } from "../config/mod.ts";
import { type FieldSpec, isTable, SCHEMA, type TableSpec } from "../config/schema.ts";
import { comment, parseSet, renderConfig, tomlValue } from "./config_doc.ts";

const committed = await Deno.readTextFile(new URL("../deploy/config.toml", import.meta.url));

function* keys(spec: TableSpec, prefix = ""): Generator<[string, FieldSpec]> {
  for (const [name, sub] of Object.entries(spec.fields)) {
    if (isTable(sub)) yield* keys(sub, `${prefix}${name}.`);
    else yield [`${prefix}${name}`, sub];
  }
}

Deno.test("deploy/config.toml is exactly the rendering of config/schema.ts", () => {
  assert(
    committed === renderConfig(),
    "deploy/config.toml is stale: deno run --allow-read --allow-write=deploy tools/config_doc.ts --write",
  );
});

Deno.test("deploy/config.toml loads to the built-in defaults", () => {
  const raw = parseToml(committed) as Record<string, unknown>;
  const cfg = resolveConfig(raw, "deploy/config.toml");
  cfg.runtime.root = `${cfg.state}/runc`;
  assertEquals(cfg, defaultConfig());
});

Deno.test("every key of the schema is documented with its default in deploy/config.toml", () => {
  let n = 0;
  for (const [dotted, spec] of keys(SCHEMA)) {
    const name = dotted.slice(dotted.lastIndexOf(".") + 1);
    const line = `# ${name} = ${tomlValue(spec.default)}`;
    assert(committed.includes(`\n${line}\n`), `${dotted}: no line ${JSON.stringify(line)}`);
    const firstDocWords = spec.doc.split(/\s+/).slice(0, 3).join(" ");
    assert(committed.includes(firstDocWords), `${dotted}: its doc is missing`);
    n++;
  }
  assert(n >= 20, `only ${n} keys found: the walk is broken`);
});

Deno.test("renderConfig() writes overrides as active keys in their table", () => {
  const text = renderConfig({
    root: "/srv/sauropod",
    "cni.conf_dir": "/srv/cni",
    "log.level": "debug",
  });
  assert(text.includes('\nroot = "/srv/sauropod"\n'));
  assert(text.includes('\n# state = "/run/sauropod"\n'));
  const cni = text.slice(text.indexOf("\n[cni]\n"));
  assert(cni.includes('\nconf_dir = "/srv/cni"\n'));
  const cfg = resolveConfig(parseToml(text) as Record<string, unknown>, "rendered");
  assertEquals([cfg.root, cfg.cni.confDir, cfg.log.level], ["/srv/sauropod", "/srv/cni", "debug"]);
});

Deno.test("renderConfig() refuses an unknown key or a bad value, naming it", () => {
  assertThrows(() => renderConfig({ "runtime.bianry": "crun" }), Error, '"runtime.bianry"');
  assertThrows(
    () => renderConfig({ "stream.port": 70000 }),
    Error,
    '"stream.port" must be at most 65535',
  );
});

Deno.test("parseSet() types values like TOML would", () => {
  assertEquals(parseSet("stream.port=10010"), ["stream.port", 10010]);
  assertEquals(parseSet("root=/var/lib/x"), ["root", "/var/lib/x"]);
  assertEquals(parseSet('cni.bin_dirs=["/opt/cni/bin"]'), ["cni.bin_dirs", ["/opt/cni/bin"]]);
  assertEquals(parseSet("runtime.restrict_oom_score_adj=true"), [
    "runtime.restrict_oom_score_adj",
    true,
  ]);
  assertThrows(() => parseSet("novalue"), Error, "key=value");
});

Deno.test("comment() wraps at 100 columns and keeps paragraphs", () => {
  const lines = comment(`${"word ".repeat(60)}\n\nnext`);
  assert(lines.every((l) => l.length <= 100), lines.join("\n"));
  assertEquals(lines.slice(-2), ["#", "# next"]);
});
