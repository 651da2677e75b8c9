import { strictEqual } from "#assert";
import { formatLogLine, LOG_CLOSE_MARKER, LOG_OPEN_MARKER, nullPacketLog } from "./packet_log.ts";

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

Deno.test("the null log accepts everything and writes nothing", async () => {
  nullPacketLog.record("E", NODE, bytes("RR0"));
  await nullPacketLog.flush();
  await nullPacketLog.close();
  await nullPacketLog[Symbol.asyncDispose]();
});
