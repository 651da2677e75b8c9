import assert from "#assert";
import { ManualClock } from "../clock.ts";
import { MemorySink, tick } from "./_testing.ts";
import { formatLogLine, PacketLog } from "./log.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("log lines have the original format", () => {
  assert.equal(
    formatLogLine("E", { ip: "10.100.100.104", port: 3344 }, bytes("PLu1@PC-c:u2@PC-d")),
    "E: 10.100.100.104:UDP:3344, PLu1@PC-c:u2@PC-d, 17",
  );
  assert.equal(
    formatLogLine(
      "R",
      { ip: "10.100.100.104", port: 3344 },
      bytes("RL0u1@PC-c:u2@PC-d:10.100.100.102:43038"),
    ),
    "R: 10.100.100.104:UDP:3344, RL0u1@PC-c:u2@PC-d:10.100.100.102:43038, 39",
  );
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
