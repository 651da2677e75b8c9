import { strictEqual } from "#assert";
import { formatLogLine, LOG_CLOSE_MARKER, LOG_OPEN_MARKER, PacketLog } from "./packet_log.ts";
import { ManualClock } from "./clock.ts";
import { MemorySink, tick } from "./agent/_testing.ts";
import assert from "#assert";

const bytes = (text: string) => new TextEncoder().encode(text);
const NODE = { ip: "10.100.100.104", port: 3344 };

Deno.test("log lines are the original's, byte for byte", () => {
  strictEqual(
    formatLogLine("E", NODE, bytes("PLu1@PC-c:u2@PC-d")),
    "E: 10.100.100.104:UDP:3344, PLu1@PC-c:u2@PC-d, 17",
  );
  strictEqual(
    formatLogLine("R", NODE, bytes("RL0u1@PC-c:u2@PC-d:10.100.100.102:43038")),
    "R: 10.100.100.104:UDP:3344, RL0u1@PC-c:u2@PC-d:10.100.100.102:43038, 39",
  );
  strictEqual(LOG_OPEN_MARKER, "------ INICI LOG ------");
  strictEqual(LOG_CLOSE_MARKER, "------ FINAL LOG ------");
});

Deno.test("log lines show other bytes as \\xNN and count the bytes received", () => {
  const packet = new Uint8Array([0x50, 0x52, 0x00, 0x0a, 0xff]);
  strictEqual(formatLogLine("R", NODE, packet), "R: 10.100.100.104:UDP:3344, PR\\x00\\x0a\\xff, 5");
  strictEqual(formatLogLine("R", NODE, new Uint8Array()), "R: 10.100.100.104:UDP:3344, , 0");
  const long = formatLogLine("R", NODE, bytes("x".repeat(500)));
  strictEqual(long, `R: 10.100.100.104:UDP:3344, ${"x".repeat(500)}, 500`);
});

Deno.test("a packet log buffers lines and writes them on the flush interval", async () => {
  const clock = new ManualClock();
  const sink = new MemorySink();
  const log = new PacketLog({ sink, clock, flushMs: 250 });
  log.sent({ ip: "127.0.0.1", port: 3344 }, bytes("PRlaura@bb.com"));
  log.received({ ip: "127.0.0.1", port: 3344 }, bytes("RR0"));
  await tick();
  assert.equal(sink.writes, 0);
  clock.advance(250);
  await tick();
  assert.equal(sink.writes, 1);
  assert.equal(
    sink.text,
    "------ INICI LOG ------\n" +
      "E: 127.0.0.1:UDP:3344, PRlaura@bb.com, 14\n" +
      "R: 127.0.0.1:UDP:3344, RR0, 3\n",
  );
  log.received({ ip: "127.0.0.1", port: 3344 }, new Uint8Array([0x58, 0x01]));
  await log.close();
  assert.ok(sink.closed);
  assert.ok(sink.text.endsWith("R: 127.0.0.1:UDP:3344, X\\x01, 2\n------ FINAL LOG ------\n"));
});
