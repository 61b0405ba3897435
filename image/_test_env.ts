/**
 * Shared setup of the image integration tests: an {@link ImageService} on a fresh root
 * directory, a record of its registry requests, and a teardown that fails the test when
 * a mount or a partial download is left behind.
 *
 * @module
 */
import { defaultConfig } from "../config/mod.ts";
import { Logger, nullLogger } from "../log/mod.ts";
import { parseMountinfo } from "./_mountinfo.ts";
import { ImageService, type ImageServiceHooks } from "./mod.ts";

/** Why an integration test cannot run here, or undefined when it can. */
export function cannotRun(): string | undefined {
  if (Deno.build.os !== "linux") return "needs Linux";
  if (Deno.uid() !== 0) return "needs root (overlay mounts, device nodes, chown)";
  try {
    Deno.statSync("/usr/bin/docker-registry");
  } catch {
    return "needs the docker-registry package";
  }
  return undefined;
}

/** An image service for one test. */
export interface TestService extends AsyncDisposable {
  svc: ImageService;
  root: string;
  /** Registry requests as `METHOD URL`. */
  requests: string[];
  /** Reopens the service on the same root (as after an agent restart). */
  reopen(): Promise<ImageService>;
  /** Files left in `images/ingest/`. */
  ingest(): string[];
  /** Numbered snapshot directories. */
  snapshotDirs(): string[];
}

/** Options: config overrides of `image.*`, pinned refs, debug logging, pause hooks. */
export interface TestServiceOptions {
  image?: Partial<ReturnType<typeof defaultConfig>["image"]>;
  pinned?: string[];
  debug?: boolean;
  hooks?: ImageServiceHooks;
}

/** Mount points below `dir` in this mount namespace. */
export function mountsUnder(dir: string): string[] {
  return parseMountinfo(Deno.readTextFileSync("/proc/self/mountinfo"))
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

/** Opens a service on a temp root; dispose to close it and remove everything. */
export async function openTestService(opts: TestServiceOptions = {}): Promise<TestService> {
  const root = await Deno.makeTempDir({ prefix: "sauropod-image-test-" });
  const config = { ...defaultConfig().image, ...opts.image };
  const requests: string[] = [];
  const logger = opts.debug ? new Logger({ level: "debug" }) : nullLogger;
  const open = () =>
    ImageService.open({
      root,
      config,
      logger,
      ...(opts.pinned ? { pinned: opts.pinned } : {}),
      ...(opts.hooks ? { hooks: opts.hooks } : {}),
      onRegistryRequest: (m, u) => requests.push(`${m} ${u}`),
    });
  let svc = await open();
  const t: TestService = {
    get svc() {
      return svc;
    },
    root,
    requests,
    reopen: async () => {
      svc.close();
      svc = await open();
      return svc;
    },
    ingest: () => [...Deno.readDirSync(`${root}/images/ingest`)].map((e) => e.name),
    snapshotDirs: () =>
      [...Deno.readDirSync(`${root}/snapshots`)].map((e) => e.name).filter((n) => /^\d+$/.test(n))
        .sort(),
    [Symbol.asyncDispose]: async () => {
      svc.close();
      const left = mountsUnder(root);
      for (const m of left.reverse()) {
        await new Deno.Command("umount", { args: ["-l", m] }).output();
      }
      await Deno.remove(root, { recursive: true });
      if (left.length > 0) throw new Error(`test left mounts behind: ${left.join(", ")}`);
    },
  };
  return t;
}
