import { assert, assertEquals } from "../testing/assert.ts";
import { closeFd, FdStream } from "./fd.ts";
import { getWindowSize, openPty, setWindowSize } from "./pty.ts";

Deno.test("setWindowSize() on a pty master shows through the slave", () => {
  const { master, slave } = openPty();
  try {
    setWindowSize(master, { cols: 132, rows: 43 });
    assertEquals(getWindowSize(slave), { cols: 132, rows: 43 });
  } finally {
    closeFd(master);
    closeFd(slave);
  }
});

Deno.test("FdStream reads a pty master until the slave hangs up, then ends", async () => {
  const { master, slave } = openPty();
  const stream = new FdStream(master);
  try {
    const text = new TextEncoder().encode("hello over a pty\n");
    const slaveFile = Deno.openSync(`/proc/self/fd/${slave}`, { read: true, write: true });
    slaveFile.writeSync(text);
    slaveFile.close();
    closeFd(slave);
    let got = "";
    for await (const chunk of stream.readable) got += new TextDecoder().decode(chunk);
    // The line discipline turns "\n" into "\r\n" on output.
    assertEquals(got, "hello over a pty\r\n");
  } finally {
    stream.close();
  }
});

Deno.test("FdStream.close() interrupts a read that is waiting for data", async () => {
  const { master, slave } = openPty();
  const stream = new FdStream(master);
  try {
    const reader = stream.readable.getReader();
    const pending = reader.read();
    await new Promise((r) => setTimeout(r, 20));
    stream.close();
    const r = await pending;
    assert(r.done, "a closed stream ends the pending read");
  } finally {
    stream.close();
    closeFd(slave);
  }
});

Deno.test("FdStream.write() reaches the slave side of a pty", async () => {
  const { master, slave } = openPty();
  const stream = new FdStream(master);
  const slaveFile = Deno.openSync(`/proc/self/fd/${slave}`, { read: true });
  try {
    await stream.write(new TextEncoder().encode("typed\n"));
    const buf = new Uint8Array(64);
    const n = slaveFile.readSync(buf) ?? 0;
    assertEquals(new TextDecoder().decode(buf.subarray(0, n)), "typed\n");
  } finally {
    slaveFile.close();
    stream.close();
    closeFd(slave);
  }
});
