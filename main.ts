/**
 * sauropod's entry point.
 *
 * `main.ts shim …` is dispatched before anything else is imported: the shim runs once per
 * container, so it must load only its own small module graph. Every other command goes to
 * the CLI in `cli.ts`.
 *
 * @module
 */

if (import.meta.main) {
  if (Deno.args[0] === "shim") {
    const { shimMain } = await import("./shim/server/main.ts");
    Deno.exit(await shimMain(Deno.args.slice(1)));
  }
  // Not a string literal on purpose: Deno loads the whole graph of a literal dynamic import
  // at start-up (here gRPC and the npm packages), which cost every shim ~3.4 MB (measured).
  const cli: typeof import("./app/cli.ts") = await import(
    new URL("./app/cli.ts", import.meta.url).href
  );
  Deno.exit(await cli.runCli(Deno.args));
}
