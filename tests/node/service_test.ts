/**
 * The systemd unit on a real systemd node, installed the operator's way
 * (`deploy/install.sh`): `systemctl start` returns once the agent said READY=1, and by then
 * the CRI socket answers; `systemctl reload` (SIGHUP) re-reads the config in the same
 * process; a container started through the socket survives `systemctl
 * restart` (KillMode=process) and the new agent reattaches to it; a hung agent (SIGSTOP)
 * stops feeding the watchdog and systemd restarts it, the container still running; and
 * `deploy/uninstall.sh --purge` takes it all away.
 *
 * Two test-only changes to the installed node: the guest has no network, so the npm
 * packages install.sh fetches are seeded into `<prefix>/.deno` from the host's warm cache
 * (install.sh reuses that directory on an upgrade); and a drop-in shortens `WatchdogSec=`
 * from 60 s to 30 s, which halves the wait for the watchdog without changing what happens.
 * The agent uses the systemd cgroup driver, as a kubelet node with systemd would.
 */
import { assert, assertEquals, assertStringIncludes } from "../../testing/assert.ts";
import { ContainerState } from "../../api/gen/api.ts";
import { pushBaseImages } from "../fixtures/images.ts";
import { startRegistry } from "../fixtures/registry.ts";
import { CriClient } from "../harness/cri_client.ts";
import { containerConfig, eventually, podConfig } from "../harness/pods.ts";
import {
  alive,
  cgroupOf,
  onNode,
  reportOnHang,
  run,
  sh,
  shimPid,
  step,
  unitProps,
} from "./_node.ts";
import { kubeletSlices } from "./_slices.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const PREFIX = "/opt/sauropod";
const CONFIG = "/etc/sauropod/config.toml";
const DROPIN_DIR = "/etc/systemd/system/sauropod.service.d";
const DROPIN = `${DROPIN_DIR}/50-node-tier-watchdog.conf`;
const SOCKET = "/run/sauropod/sauropod.sock";
const STATE = "/run/sauropod";
const LOG_ROOT = "/var/log/pods";
const UNIT = "sauropod.service";
const WATCHDOG_S = 30;
const dec = new TextDecoder();

/** Runs an install script; its output goes into the error when it fails. */
async function script(path: string, args: string[]): Promise<string> {
  const r = await run(path, args);
  const out = `${r.stdout}${r.stderr}`;
  if (r.code !== 0) throw new Error(`${path} ${args.join(" ")} exited with ${r.code}:\n${out}`);
  return out;
}

/** The unit's journal since it was installed, for failure messages and the watchdog check. */
async function journal(lines = 40): Promise<string> {
  const r = await run("journalctl", ["-u", UNIT, "--no-pager", "-o", "short-monotonic"]);
  return r.stdout.trimEnd().split("\n").slice(-lines).join("\n");
}

async function mainPid(): Promise<number> {
  return Number((await unitProps(UNIT, ["MainPID"])).MainPID);
}

/** A client whose calls must answer quickly: the agent claims to be ready. */
function readyClient(): CriClient {
  return new CriClient(SOCKET, { timeoutMs: 20_000 });
}

Deno.test(onNode(
  "systemd unit: Type=notify start, restart and watchdog keep containers; install/uninstall",
  "disposable",
  async (t) => {
    const registry = await startRegistry();
    const uid = crypto.randomUUID();
    const slices = await kubeletSlices(uid);
    const clients: CriClient[] = [];
    const hadPrefix = await Deno.stat(PREFIX).then(() => true, () => false);
    const hadBridge = (await run("ip", ["link", "show", "sauropod0"])).code === 0;
    let podId = "";
    let logDir = "";
    using _hang = reportOnHang(async () => `${UNIT} journal, last 20 lines:\n${await journal(20)}`);
    try {
      const images = await pushBaseImages(registry.host);
      const pod = podConfig(LOG_ROOT, "unit");
      pod.metadata = { ...pod.metadata, uid };
      pod.linux = { ...pod.linux, cgroupParent: slices.cgroupParent };
      logDir = pod.logDirectory!;

      await step(t, "deploy/install.sh installs the code, config and unit offline", async () => {
        assert(!hadPrefix, `${PREFIX} must not exist before the test (a node to throw away)`);
        // The guest has no network: seed what install.sh would fetch, the npm packages and
        // the esbuild binary that `deno bundle` downloads.
        const deno = Deno.env.get("DENO_DIR");
        assert(deno, "DENO_DIR names the warmed Deno cache");
        await Deno.mkdir(`${PREFIX}/.deno`, { recursive: true });
        for (const dir of ["npm", "dl"]) {
          await sh("cp", ["-a", `${deno}/${dir}`, `${PREFIX}/.deno/`]);
        }
        const out = await script(`${ROOT}/deploy/install.sh`, ["--skip-packages", "--no-enable"]);
        assert(!out.includes("warning"), `install.sh warned:\n${out}`);
        const config = await Deno.readTextFile(CONFIG);
        const driver = '# cgroup_driver = "cgroupfs"';
        assertStringIncludes(config, driver);
        await Deno.writeTextFile(CONFIG, config.replace(driver, 'cgroup_driver = "systemd"'));
        await Deno.mkdir(DROPIN_DIR, { recursive: true });
        await Deno.writeTextFile(DROPIN, `[Service]\nWatchdogSec=${WATCHDOG_S}s\n`);
        await sh("systemctl", ["daemon-reload"]);
        const verify = await run("systemd-analyze", ["verify", `/etc/systemd/system/${UNIT}`]);
        const complaints = `${verify.stdout}${verify.stderr}`.split("\n")
          .filter((l) => l.includes(UNIT));
        assertEquals(complaints, [], "systemd-analyze verify on the installed unit");
        const p = await unitProps(UNIT, ["LoadState", "Type", "KillMode", "DropInPaths"]);
        assertEquals(p, {
          LoadState: "loaded",
          Type: "notify",
          KillMode: "process",
          DropInPaths: DROPIN,
        });
      });

      await step(t, "systemctl start returns after READY=1, when the socket answers", async () => {
        // systemctl start blocks until the agent's READY=1 (or a failure).
        const r = await run("systemctl", ["start", UNIT]);
        assertEquals(r.code, 0, `${r.stderr}\n${await journal()}`);
        const client = readyClient();
        clients.push(client);
        const v = await client.runtime.version({});
        assertEquals(v.runtimeName, "sauropod");
        const p = await unitProps(UNIT, [
          "ActiveState",
          "SubState",
          "NRestarts",
          "StatusText",
          "WatchdogUSec",
        ]);
        assertEquals(
          [p.ActiveState, p.SubState, p.NRestarts, p.WatchdogUSec],
          ["active", "running", "0", `${WATCHDOG_S}s`],
        );
        assert(p.StatusText, "the agent sent a STATUS= line");
        // Offline, the installed agent still bundles its shim (install.sh fetched esbuild).
        const log = await journal(200);
        assert(!log.includes("cannot bundle the shim"), log);
      });

      let initPid = 0;
      let shim = 0;
      let ctrId = "";
      const logPath = `${logDir}/count/0.log`;
      await step(t, "a container started through the socket runs in its scope", async () => {
        const client = clients.at(-1)!;
        await client.image.pullImage({ image: { image: images.busybox.ref } });
        podId = (await client.runtime.runPodSandbox({ config: pod })).podSandboxId;
        ctrId = (await client.runtime.createContainer({
          podSandboxId: podId,
          config: containerConfig("count", images.busybox.ref, [
            "sh",
            "-c",
            "i=0; while :; do echo $i; i=$((i+1)); sleep 1; done",
          ]),
          sandboxConfig: pod,
        })).containerId;
        await client.runtime.startContainer({ containerId: ctrId });
        initPid = Number((await Deno.readTextFile(`${STATE}/shims/${ctrId}/init.pid`)).trim());
        shim = await shimPid(STATE, ctrId);
        assertEquals(
          await cgroupOf(initPid),
          `${slices.cgroupParent}/cri-sauropod-${ctrId}.scope`,
        );
        // KillMode=process leaves the shims in the unit's cgroup, out of systemd's way.
        assertEquals(await cgroupOf(shim), `/system.slice/${UNIT}`);
      });

      /** The container runs on, the same process, reachable through a new agent. */
      const reattached = async (why: string) => {
        assert(await alive(initPid), `the container's process survived ${why}`);
        assert(await alive(shim), `the shim survived ${why}`);
        const client = readyClient();
        clients.push(client);
        const st = (await client.runtime.containerStatus({ containerId: ctrId })).status!;
        assertEquals(st.state, ContainerState.CONTAINER_RUNNING, `after ${why}`);
        const r = await client.runtime.execSync({
          containerId: ctrId,
          cmd: ["echo", "still here"],
          timeout: 30,
        });
        assertEquals(dec.decode(r.stdout), "still here\n");
        const before = (await Deno.readTextFile(logPath)).length;
        await eventually("the container's log to grow", async () => {
          return (await Deno.readTextFile(logPath)).length > before ? true : undefined;
        }, 30_000);
      };

      await step(t, "systemctl reload re-reads the config in the same agent (SIGHUP)", async () => {
        const before = await mainPid();
        // The agent was execve'd under the permissions computed from its config: the pid
        // systemd watches is the agent's, and its flags came from the config.
        const argv = (await Deno.readTextFile(`/proc/${before}/cmdline`)).split("\0");
        assert(argv.includes("--permissions-from-config"), argv.join(" "));
        assert(argv.some((a) => a.startsWith("--allow-write=") && a.includes(LOG_ROOT)));
        const r = await run("systemctl", ["reload", UNIT]);
        assertEquals(r.code, 0, `${r.stderr}\n${await journal()}`);
        await eventually("the reload in the journal", async () => {
          return (await journal(50)).includes("configuration reloaded") ? true : undefined;
        }, 30_000);
        assertEquals(await mainPid(), before, "a reload is not a restart");
        const p = await unitProps(UNIT, ["ActiveState", "NRestarts"]);
        assertEquals([p.ActiveState, p.NRestarts], ["active", "0"]);
        await reattached("systemctl reload");
      });

      await step(
        t,
        "systemctl restart leaves the container running; the agent reattaches",
        async () => {
          for (const c of clients.splice(0)) c.close();
          const before = await mainPid();
          const r = await run("systemctl", ["restart", UNIT]);
          assertEquals(r.code, 0, `${r.stderr}\n${await journal()}`);
          const after = await mainPid();
          assert(after > 0 && after !== before, `a new agent (${before} → ${after})`);
          await reattached("systemctl restart");
        },
      );

      await step(
        t,
        "the watchdog restarts a hung (SIGSTOPped) agent; the container runs on",
        async () => {
          for (const c of clients.splice(0)) c.close();
          const before = await unitProps(UNIT, ["MainPID", "NRestarts"]);
          // Only the agent: the shims share its cgroup and must keep serving their containers.
          await sh("systemctl", ["kill", "--kill-whom=main", "--signal=SIGSTOP", UNIT]);
          const restarted = await eventually("systemd to restart the hung agent", async () => {
            const p = await unitProps(UNIT, ["MainPID", "NRestarts", "ActiveState", "SubState"]);
            const again = p.NRestarts !== before.NRestarts && p.MainPID !== "0" &&
              p.MainPID !== before.MainPID && p.SubState === "running";
            return again ? p : undefined;
          }, (2 * WATCHDOG_S + 90) * 1000);
          assertEquals(Number(restarted.NRestarts), Number(before.NRestarts) + 1);
          assertStringIncludes(await journal(200), "Watchdog timeout");
          await reattached("a watchdog restart");
        },
      );

      await step(
        t,
        "the pod is removed through the socket; uninstall --purge removes the rest",
        async () => {
          const client = readyClient();
          clients.push(client);
          await client.runtime.removePodSandbox({ podSandboxId: podId });
          podId = "";
          assert(!(await alive(initPid)), "the container is gone");
          // What a pod-less agent keeps mounted: only its propagation mount of <state>/ns.
          const mounts = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
            .map((l) => l.split(" ")[4] ?? "")
            .filter((m) => m.startsWith(`${STATE}/`) || m.startsWith("/var/lib/sauropod/"));
          assertEquals(mounts, [`${STATE}/ns`]);
          // Deno 2.9.6 segfaults in a gRPC client whose server exits under its connection.
          for (const c of clients.splice(0)) c.close();
          await script(`${ROOT}/deploy/uninstall.sh`, ["--purge"]);
          const p = await unitProps(UNIT, ["LoadState", "ActiveState"]);
          assertEquals([p.LoadState, p.ActiveState], ["not-found", "inactive"]);
          // The code tree stays: <prefix> existed before the install (the seeded cache), so
          // install.sh took it for an upgrade and recorded no directory; finally removes it.
          for (const path of [CONFIG, "/var/lib/sauropod", STATE, `${PREFIX}/.install-manifest`]) {
            assert(!(await Deno.stat(path).then(() => true, () => false)), `${path} is gone`);
          }
        },
      );
    } finally {
      for (const c of clients) c.close();
      if (podId) {
        const c = new CriClient(SOCKET, { timeoutMs: 30_000 });
        await c.runtime.removePodSandbox({ podSandboxId: podId }).catch(() => {});
        c.close();
      }
      await run("systemctl", ["kill", "--kill-whom=main", "--signal=SIGCONT", UNIT]);
      if (await Deno.stat(`${PREFIX}/.install-manifest`).then(() => true, () => false)) {
        await run(`${ROOT}/deploy/uninstall.sh`, ["--purge"]);
      }
      await Deno.remove(DROPIN_DIR, { recursive: true }).catch(() => {});
      await run("systemctl", ["daemon-reload"]);
      await run("systemctl", ["reset-failed", UNIT]);
      // What install.sh did not create: the seeded cache (and a core of the aborted agent).
      if (!hadPrefix) await Deno.remove(PREFIX, { recursive: true }).catch(() => {});
      if (logDir) await Deno.remove(logDir, { recursive: true }).catch(() => {});
      if (!hadBridge) await run("ip", ["link", "del", "sauropod0"]);
      await slices[Symbol.asyncDispose]();
      await registry.stop();
    }
  },
));
