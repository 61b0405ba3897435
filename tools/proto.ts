// deno-lint-ignore-file no-console
/**
 * `deno task proto`: regenerates `api/gen/api.ts` from `api/api.proto` with ts-proto
 * (run as a protoc plugin under Deno). Needs `protoc` (apt: protobuf-compiler).
 *
 * Options: int64 as bigint (nanosecond timestamps exceed 2^53), sub-messages optional
 * (absent in proto3), generic service definitions that `cri/server.ts` registers.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const TS_PROTO = "npm:ts-proto@2.18.0/build/src/plugin.js";
const OPTIONS = [
  "forceLong=bigint",
  "useOptionals=messages",
  "outputServices=generic-definitions",
  "env=browser",
  "esModuleInterop=true",
  "outputJsonMethods=false",
  "outputTypeRegistry=false",
  "exportCommonSymbols=false",
].join(",");

const which = await new Deno.Command("sh", { args: ["-c", "command -v protoc"] }).output();
if (!which.success) {
  console.error("protoc not found: apt-get install -y protobuf-compiler");
  Deno.exit(1);
}

const tmp = await Deno.makeTempDir({ prefix: "sauropod-proto-" });
try {
  await Deno.writeTextFile(`${tmp}/plugin.ts`, `import "${TS_PROTO}";\n`);
  const deno = Deno.execPath();
  await Deno.writeTextFile(
    `${tmp}/protoc-gen-ts_proto`,
    `#!/bin/sh\nexec "${deno}" run -A --no-config --no-lock "${tmp}/plugin.ts"\n`,
  );
  await Deno.chmod(`${tmp}/protoc-gen-ts_proto`, 0o755);
  const out = await new Deno.Command("protoc", {
    args: [
      `--plugin=protoc-gen-ts_proto=${tmp}/protoc-gen-ts_proto`,
      `--ts_proto_out=${ROOT}/api/gen`,
      `--ts_proto_opt=${OPTIONS}`,
      `-I`,
      `${ROOT}/api`,
      `${ROOT}/api/api.proto`,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) Deno.exit(1);
  console.log("regenerated api/gen/api.ts");
} finally {
  await Deno.remove(tmp, { recursive: true });
}
