/**
 * A worker for the race tests of `beneath.ts`: swaps two names of a directory with
 * `renameat2(RENAME_EXCHANGE)` as fast as it can (a directory and a symlink pointing out of
 * the tree) until the main thread sets `stop[0]`, then posts the number of swaps.
 *
 * @module
 */
import { openPath, RENAME_EXCHANGE, renameAt } from "../beneath.ts";

interface Start {
  dir: string;
  a: string;
  b: string;
  stop: SharedArrayBuffer;
}

const ctx = self as unknown as {
  onmessage: ((e: MessageEvent<Start>) => void) | null;
  postMessage(m: unknown): void;
};

ctx.onmessage = (e) => {
  const { dir, a, b } = e.data;
  const stop = new Int32Array(e.data.stop);
  const fd = openPath(dir);
  let swaps = 0;
  try {
    ctx.postMessage({ started: true });
    while (Atomics.load(stop, 0) === 0) {
      renameAt(fd, a, fd, b, RENAME_EXCHANGE);
      swaps++;
    }
    // Leave the names as they were found.
    if (swaps % 2 === 1) renameAt(fd, a, fd, b, RENAME_EXCHANGE);
  } finally {
    fd.close();
  }
  ctx.postMessage({ swaps });
};
