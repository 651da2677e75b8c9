/**
 * The packet log on disk: markers, buffering, appending. Needs write
 * permission in tests/.tmp.
 *
 * @module
 */

import { strictEqual } from "#assert";
import { LOG_CLOSE_MARKER, LOG_OPEN_MARKER, openPacketLog } from "../lib/packet_log.ts";
import { tempDir } from "./support/process.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const AGENT = { ip: "127.0.0.1", port: 40000 };

async function withDir(run: (path: string) => Promise<void>): Promise<void> {
  const dir = await tempDir("packet-log-");
  try {
    await run(`${dir}/nodelumi-bb.com.log`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a log holds its lines between the opening and closing markers", async () => {
  await withDir(async (path) => {
    const log = await openPacketLog(path);
    log.record("R", AGENT, bytes("PRlaura@bb.com"));
    log.record("E", AGENT, bytes("RR0"));
    await log.close();
    strictEqual(
      await Deno.readTextFile(path),
      [
        LOG_OPEN_MARKER,
        "R: 127.0.0.1:UDP:40000, PRlaura@bb.com, 14",
        "E: 127.0.0.1:UDP:40000, RR0, 3",
        LOG_CLOSE_MARKER,
        "",
      ].join("\n"),
    );
  });
});

Deno.test("lines are buffered until a flush, then written in order", async () => {
  await withDir(async (path) => {
    // An interval that never comes during the test: only explicit flushes write.
    await using log = await openPacketLog(path, { flushMs: 3_600_000 });
    log.record("R", AGENT, bytes("PRlaura@bb.com"));
    strictEqual(await Deno.readTextFile(path), "");
    await log.flush();
    strictEqual(
      await Deno.readTextFile(path),
      `${LOG_OPEN_MARKER}\nR: 127.0.0.1:UDP:40000, PRlaura@bb.com, 14\n`,
    );
    log.record("E", AGENT, bytes("RR0"));
    await log.flush();
    strictEqual(
      await Deno.readTextFile(path),
      `${LOG_OPEN_MARKER}\nR: 127.0.0.1:UDP:40000, PRlaura@bb.com, 14\n` +
        "E: 127.0.0.1:UDP:40000, RR0, 3\n",
    );
  });
});

Deno.test("a reopened log is appended to, and closing twice or recording after close is harmless", async () => {
  await withDir(async (path) => {
    const first = await openPacketLog(path);
    first.record("E", AGENT, bytes("RR0"));
    await first.close();
    await first.close();
    first.record("E", AGENT, bytes("RR1"));
    const second = await openPacketLog(path);
    second.record("E", AGENT, bytes("RD0"));
    await second[Symbol.asyncDispose]();
    strictEqual(
      await Deno.readTextFile(path),
      [
        LOG_OPEN_MARKER,
        "E: 127.0.0.1:UDP:40000, RR0, 3",
        LOG_CLOSE_MARKER,
        LOG_OPEN_MARKER,
        "E: 127.0.0.1:UDP:40000, RD0, 3",
        LOG_CLOSE_MARKER,
        "",
      ].join("\n"),
    );
  });
});
