/**
 * The fd-relative primitives against what hostile trees do: `..`, absolute and relative
 * symlinks, magic `/proc` links, names that already exist as symlinks, and a second thread
 * swapping a path component for a symlink while the first works beneath it.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { fingerprint, victimDir } from "../testing/victim.ts";
import {
  chmodAt,
  chmodFd,
  chownAt,
  createFile,
  createFileSync,
  type Fd,
  FsErrno,
  linkFd,
  makeDirAt,
  makeDirAtSync,
  makeNodeAt,
  makeNodeAtSync,
  makeSymlinkAt,
  makeSymlinkAtSync,
  O,
  openBeneath,
  openDir,
  openDirPath,
  openPath,
  readDirAll,
  removeTreeAt,
  renameAt,
  S_IFCHR,
  S_IFIFO,
  S_IFMT,
  setTimesAt,
  setXattrAt,
  setXattrFd,
  statAt,
  statFd,
  syncFile,
  syncFileSystem,
  unlinkAt,
  writeAll,
  writeAllSync,
} from "./beneath.ts";
import { SyscallError } from "./_libc.ts";
import { lgetxattr } from "./fsnode.ts";

const ignore = Deno.build.os !== "linux" || Deno.uid() !== 0;
const enc = new TextEncoder();

/** A scratch tree `root/` beside a victim directory; `fn` gets the root's fd. */
async function withRoot(
  fn: (root: Fd, rootPath: string, victim: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sauropod-beneath-test-" });
  await using victim = await victimDir();
  const before = victim.fingerprint();
  try {
    await Deno.mkdir(`${dir}/root`);
    using root = openPath(`${dir}/root`);
    await fn(root, `${dir}/root`, victim.path);
    assertEquals(victim.fingerprint(), before, "the victim directory is untouched");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function errnoOf(fn: () => unknown): number {
  const err = assertThrows(fn, SyscallError);
  return err.errno;
}

Deno.test({
  name: "openBeneath() refuses .., absolute names and every symlink on the way",
  ignore,
  sanitizeResources: false, // libc stays open for the process, by design
  async fn() {
    await withRoot((root, rootPath, victim) => {
      Deno.mkdirSync(`${rootPath}/a/b`, { recursive: true });
      Deno.writeTextFileSync(`${rootPath}/a/b/f`, "inside");
      Deno.symlinkSync(victim, `${rootPath}/abs`);
      Deno.symlinkSync("a/b", `${rootPath}/rel`);
      Deno.symlinkSync("../../..", `${rootPath}/a/up`);
      Deno.symlinkSync("f", `${rootPath}/a/b/flink`);

      // `..` that stays inside is fine; above the root it is EXDEV.
      openBeneath(root, "a/../a/b/f", O.RDONLY).close();
      assertEquals(errnoOf(() => openBeneath(root, "..", O.RDONLY)), FsErrno.EXDEV);
      assertEquals(errnoOf(() => openBeneath(root, "a/../../x", O.RDONLY)), FsErrno.EXDEV);
      assertEquals(errnoOf(() => openBeneath(root, victim, O.RDONLY)), FsErrno.EXDEV);
      // Symlinks: absolute, relative and climbing ones, in the middle or at the end.
      for (const p of ["abs/shadow", "abs", "rel/f", "rel", "a/up/etc", "a/b/flink"]) {
        assertEquals(errnoOf(() => openBeneath(root, p, O.RDONLY)), FsErrno.ELOOP, p);
      }
      // O_PATH|O_NOFOLLOW opens a final symlink itself, never its target.
      using l = openBeneath(root, "abs", O.PATH | O.NOFOLLOW);
      assertEquals(statFd(l).mode & S_IFMT, 0o120000);
      // Creating through openBeneath cannot go through a symlink either.
      assertEquals(
        errnoOf(() => openBeneath(root, "abs/new", O.WRONLY | O.CREAT | O.EXCL, 0o644)),
        FsErrno.ELOOP,
      );
    });
  },
});

Deno.test({
  name: "openBeneath() refuses magic links: /proc/self/fd/N and a symlink to one",
  ignore,
  sanitizeResources: false,
  async fn() {
    await withRoot((root, rootPath, victim) => {
      using outside = openPath(victim);
      // A magic link met while resolving beneath /proc/self.
      using proc = openPath(`/proc/${Deno.pid}`);
      assertEquals(
        errnoOf(() => openBeneath(proc, `fd/${outside.fd}/shadow`, O.RDONLY)),
        FsErrno.ELOOP,
      );
      assertEquals(errnoOf(() => openBeneath(proc, `fd/${outside.fd}`, O.RDONLY)), FsErrno.ELOOP);
      // A plain symlink inside the tree that points at one.
      Deno.symlinkSync(`/proc/self/fd/${outside.fd}`, `${rootPath}/m`);
      assertEquals(errnoOf(() => openBeneath(root, "m/shadow", O.RDONLY)), FsErrno.ELOOP);
      assertEquals(errnoOf(() => openBeneath(root, "m", O.RDONLY)), FsErrno.ELOOP);
    });
  },
});

Deno.test({
  name: "the *at calls never follow a final symlink: create, mkdir, mknod, chown, times, xattr",
  ignore,
  sanitizeResources: false,
  async fn() {
    await withRoot((root, rootPath, victim) => {
      for (const n of ["f", "d", "n", "s"]) {
        Deno.symlinkSync(`${victim}/shadow`, `${rootPath}/${n}`);
      }
      assertEquals(errnoOf(() => createFileSync(root, "f", 0o644)), FsErrno.EEXIST);
      assertEquals(errnoOf(() => makeDirAtSync(root, "d")), FsErrno.EEXIST);
      assertEquals(errnoOf(() => makeNodeAtSync(root, "n", S_IFIFO, 0o666)), FsErrno.EEXIST);
      assertEquals(errnoOf(() => makeSymlinkAtSync("/etc", root, "s")), FsErrno.EEXIST);
      // Owner, times and xattrs go to the link itself.
      chownAt(root, "f", 4242, 4343);
      setTimesAt(root, "f", 1000, 2000);
      const st = statAt(root, "f");
      assertEquals([st.mode & S_IFMT, st.uid, st.gid, st.mtime], [0o120000, 4242, 4343, 2000]);
      setXattrAt(root, "f", "trusted.sauropod-test", enc.encode("v"));
      assertEquals(lgetxattr(`${rootPath}/f`, "trusted.sauropod-test"), enc.encode("v"));
      assertEquals(lgetxattr(`${victim}/shadow`, "trusted.sauropod-test"), undefined);
      // fchmodat would follow: refused on a symlink instead.
      assertEquals(errnoOf(() => chmodAt(root, "f", 0o777)), FsErrno.ELOOP);
      // A symlink is removed as a name; its target stays.
      unlinkAt(root, "f");
      assert(Deno.lstatSync(`${victim}/shadow`).isFile);
    });
  },
});

Deno.test({
  name: "files, directories and nodes made beneath a root get exact modes, owners and times",
  ignore,
  sanitizeResources: false,
  async fn() {
    await withRoot(async (root, rootPath) => {
      await makeDirAt(root, "d", 0o700);
      using d = openDir(root, "d");
      chmodFd(d, 0o1777);
      using f = await createFile(d, "file", 0o600);
      // A view into a bigger buffer: only its bytes are written.
      await writeAll(f, enc.encode("<hello>").subarray(1, 6));
      chmodFd(f, 0o4755);
      setXattrFd(f, "user.k", enc.encode("v"));
      await syncFile(f);
      const st = statFd(f);
      assertEquals([st.size, st.mode & 0o7777, st.nlink], [5, 0o4755, 1]);
      using dp = openDirPath(root, "d");
      await makeNodeAt(dp, "null", S_IFCHR, 0o600, 1, 3);
      chmodAt(dp, "null", 0o666);
      const n = statAt(dp, "null");
      assertEquals([n.mode & S_IFMT, n.mode & 0o7777, n.rdevMajor, n.rdevMinor], [
        S_IFCHR,
        0o666,
        1,
        3,
      ]);
      // linkFd links exactly the open inode, whatever the name points at now.
      renameAt(dp, "file", dp, "moved");
      await linkFd(f, root, "hard");
      assertEquals(statAt(root, "hard").ino, st.ino);
      assertEquals(statAt(root, "hard").nlink, 2);
      assertEquals(Deno.readTextFileSync(`${rootPath}/hard`), "hello");
      await makeSymlinkAt("moved", dp, "sym");
      assertEquals(readDirAll(d).map((e) => e.name).sort(), ["moved", "null", "sym"]);
      // Off-thread calls that fail report the errno of the same call retried here.
      const exists = await assertRejects(() => makeDirAt(root, "d"), SyscallError);
      assertEquals(exists.errno, FsErrno.EEXIST);
      await syncFileSystem(root);
    });
  },
});

Deno.test({
  name: "removeTreeAt() removes deep and wide trees and never follows a symlink inside",
  ignore,
  sanitizeResources: false,
  async fn() {
    await withRoot(async (root, rootPath, victim) => {
      // 1500 levels: more than a descriptor per level would allow under `ulimit -n 1024`.
      makeDirAtSync(root, "deep");
      let cur = openDirPath(root, "deep");
      for (let i = 0; i < 1500; i++) {
        makeDirAtSync(cur, "d");
        makeSymlinkAtSync(victim, cur, "out");
        const next = openDirPath(cur, "d");
        cur.close();
        cur = next;
      }
      cur.close();
      makeDirAtSync(root, "wide");
      using w = openDirPath(root, "wide");
      for (let i = 0; i < 2000; i++) createFileSync(w, `f${i}`).close();
      makeSymlinkAtSync(victim, w, "victim");
      makeSymlinkAtSync(`${victim}/x`, root, "dirlink");
      await removeTreeAt(root, "deep", { yieldEvery: 100 });
      await removeTreeAt(root, "wide");
      await removeTreeAt(root, "dirlink"); // the link goes, the directory it names stays
      await removeTreeAt(root, "missing");
      assertEquals([...Deno.readDirSync(rootPath)], []);
    });
  },
});

/** Runs `fn` while a worker swaps `a` (a directory) and `b` (a symlink out) in `dir`. */
async function whileSwapping(dir: string, fn: () => Promise<void>): Promise<number> {
  const stop = new SharedArrayBuffer(4);
  const w = new Worker(new URL("./testdata/swap_worker.ts", import.meta.url), { type: "module" });
  try {
    const started = Promise.withResolvers<void>();
    const done = Promise.withResolvers<number>();
    w.onmessage = (e) => {
      if (e.data.started) started.resolve();
      else done.resolve(e.data.swaps);
    };
    w.onerror = (e) => {
      started.reject(e.error ?? e.message);
      done.reject(e.error ?? e.message);
    };
    w.postMessage({ dir, a: "a", b: "b", stop });
    await started.promise;
    try {
      await fn();
    } finally {
      Atomics.store(new Int32Array(stop), 0, 1);
    }
    return await done.promise;
  } finally {
    w.terminate();
  }
}

Deno.test({
  name: "a component swapped for a symlink by another thread never lets a write out",
  ignore,
  sanitizeResources: false,
  async fn() {
    await withRoot(async (root, rootPath, victim) => {
      const fresh = await Deno.makeTempDir({ prefix: "sauropod-victim-control-" });
      try {
        Deno.mkdirSync(`${rootPath}/a`);
        Deno.symlinkSync(fresh, `${rootPath}/b`);
        // Control: path strings resolved at call time do escape under this race.
        let escaped = false;
        await whileSwapping(rootPath, async () => {
          const until = Date.now() + 10_000;
          for (let i = 0; !escaped && Date.now() < until; i++) {
            try {
              Deno.writeTextFileSync(`${rootPath}/a/control${i}`, "x");
            } catch { /* the swap can also make the name vanish for a moment */ }
            escaped = [...Deno.readDirSync(fresh)].length > 0;
            if (i % 64 === 0) await new Promise((r) => setTimeout(r, 0));
          }
        });
        assert(escaped, "the control (plain paths) should have escaped under the race");

        // The same race against openBeneath + createFile: every write lands inside or fails.
        Deno.removeSync(fresh, { recursive: true });
        Deno.mkdirSync(fresh);
        let made = 0;
        let refused = 0;
        await whileSwapping(rootPath, async () => {
          const until = Date.now() + 20_000;
          for (let i = 0; (made < 200 || refused < 200) && Date.now() < until; i++) {
            try {
              using parent = openDirPath(root, "a");
              using f = createFileSync(parent, `f${i}`);
              writeAllSync(f, enc.encode("x"));
              using d = openDirPath(root, "a");
              makeDirAtSync(d, `d${i}`);
              made++;
            } catch (err) {
              if (!(err instanceof SyscallError) || err.errno !== FsErrno.ELOOP) throw err;
              refused++;
            }
            if (i % 64 === 0) await new Promise((r) => setTimeout(r, 0));
          }
        });
        assert(
          made > 0 && refused > 0,
          `the race ran both ways (${made} made, ${refused} refused)`,
        );
        assertEquals([...Deno.readDirSync(fresh)], [], "nothing reached the symlink's target");
        assertEquals(fingerprint(victim).length > 0, true);
      } finally {
        await Deno.remove(fresh, { recursive: true });
      }
    });
  },
});
