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
    const { shimMain } = await import("./shim/main.ts");
    Deno.exit(await shimMain(Deno.args.slice(1)));
  }
  const { runCli } = await import("./app/cli.ts");
  Deno.exit(await runCli(Deno.args));
}
