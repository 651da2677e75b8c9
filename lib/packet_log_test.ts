import { strictEqual } from "#assert";
import {
  droppedMarker,
  formatLogLine,
  LOG_CLOSE_MARKER,
  LOG_OPEN_MARKER,
  type LogSink,
  LogWriteError,
  PacketLog,
} from "./packet_log.ts";
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

/** A sink that fails while `failing` is set: whole (`error`), or after `partial` characters. */
class FaultySink implements LogSink {
  text = "";
  attempts: number[] = [];
  failing = false;
  partial = 0;
  constructor(readonly clock: ManualClock) {}
  write(text: string): Promise<void> {
    this.attempts.push(this.clock.now());
    if (!this.failing) {
      this.text += text;
      return Promise.resolve();
    }
    if (this.partial > 0) {
      const written = Math.min(this.partial, text.length);
      this.text += text.slice(0, written);
      return Promise.reject(new LogWriteError("disk full", written));
    }
    return Promise.reject(new Deno.errors.PermissionDenied("Operation not permitted"));
  }
  close(): void {}
}

const AGENT = { ip: "127.0.0.1", port: 40000 };
const lineOf = (n: number) => formatLogLine("R", AGENT, bytes(`PLu${n}@bb.com:joan@bb.com`));

/** Let the sink's promise and the log's handlers run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await tick();
}

Deno.test("a log that cannot be written holds a bounded buffer, counts what it drops, and resumes with one marker line", async () => {
  const clock = new ManualClock();
  const sink = new FaultySink(clock);
  const errors: unknown[] = [];
  const resumed: number[] = [];
  const log = new PacketLog({
    sink,
    clock,
    flushMs: 100,
    maxBuffered: 20_000,
    onError: (error) => errors.push(error),
    onResume: (dropped) => resumed.push(dropped),
  });
  log.record("R", AGENT, bytes("PLu0@bb.com:joan@bb.com"));
  clock.advance(100);
  await settle();
  sink.failing = true;
  // 3,000 lines of about 45 characters while the file cannot be written: seven times the buffer.
  for (let n = 1; n <= 3_000; n++) {
    log.record("R", AGENT, bytes(`PLu${n}@bb.com:joan@bb.com`));
    if (n % 100 === 0) {
      clock.advance(100);
      await settle();
    }
    assert.ok(log.stats.buffered <= 20_000, `buffer ${log.stats.buffered} after line ${n}`);
  }
  assert.equal(errors.length, 1, "one error per outage, not one per retry");
  assert.ok(log.failing);
  const dropped = log.stats.dropped;
  const kept = 3_000 - dropped;
  assert.ok(dropped > 2_000 && kept > 300, `kept ${kept}, dropped ${dropped}`);
  // The disk is back: the next retry writes the lines it kept, then the marker.
  sink.failing = false;
  clock.advance(5_000);
  await settle();
  clock.advance(100);
  await settle();
  assert.ok(!log.failing);
  assert.deepEqual(resumed, [dropped]);
  log.record("R", AGENT, bytes("PLu3001@bb.com:joan@bb.com"));
  await log.close();
  const expected = [
    LOG_OPEN_MARKER,
    lineOf(0),
    ...Array.from({ length: kept }, (_, i) => lineOf(i + 1)),
    droppedMarker(dropped),
    lineOf(3001),
    LOG_CLOSE_MARKER,
    "",
  ];
  assert.equal(sink.text, expected.join("\n"));
});

Deno.test("a write cut short by a full disk goes on where it stopped: no line lost or repeated", async () => {
  const clock = new ManualClock();
  const sink = new FaultySink(clock);
  const log = new PacketLog({ sink, clock, flushMs: 100 });
  for (let n = 0; n < 10; n++) log.record("R", AGENT, bytes(`PLu${n}@bb.com:joan@bb.com`));
  sink.failing = true;
  sink.partial = 70; // the opening marker and part of the first line
  clock.advance(100);
  await settle();
  assert.equal(log.stats.failedWrites, 1);
  sink.partial = 0;
  for (let n = 10; n < 20; n++) log.record("R", AGENT, bytes(`PLu${n}@bb.com:joan@bb.com`));
  sink.failing = false;
  clock.advance(500);
  await settle();
  await log.close();
  const lines = Array.from({ length: 20 }, (_, n) => lineOf(n));
  assert.equal(sink.text, [LOG_OPEN_MARKER, ...lines, LOG_CLOSE_MARKER, ""].join("\n"));
  assert.equal(log.stats.dropped, 0);
});

Deno.test("retries wait longer after each failure, up to maxRetryMs, and stop at close", async () => {
  const clock = new ManualClock();
  const sink = new FaultySink(clock);
  const log = new PacketLog({ sink, clock, flushMs: 100, retryMs: 500, maxRetryMs: 4_000 });
  sink.failing = true;
  log.record("R", AGENT, bytes("PRlaura@bb.com"));
  for (let i = 0; i < 200; i++) {
    clock.advance(100);
    await tick();
  }
  // Attempts at 100 ms, then 500, 1 000, 2 000, 4 000, 4 000 … ms apart.
  const gaps = sink.attempts.slice(1).map((at, i) => at - sink.attempts[i]!);
  assert.deepEqual(gaps.slice(0, 6), [500, 1_000, 2_000, 4_000, 4_000, 4_000]);
  assert.equal(sink.attempts[0], 100);
  await log.close();
  const attempts = sink.attempts.length;
  clock.advance(60_000);
  await settle();
  assert.equal(sink.attempts.length, attempts, "no retry after close");
});

Deno.test("a disk slower than the packets fills the buffer, never more, and the marker says how many lines are missing", async () => {
  const clock = new ManualClock();
  let release: (() => void) | undefined;
  let text = "";
  const slow: LogSink = {
    write: (t) =>
      new Promise<void>((resolve) => {
        release = () => {
          text += t;
          resolve();
        };
      }),
    close: () => {},
  };
  const log = new PacketLog({ sink: slow, clock, flushMs: 100, maxBuffered: 2_000 });
  clock.advance(100); // the opening marker's write, which hangs
  await settle();
  for (let n = 0; n < 500; n++) log.record("R", AGENT, bytes(`PLu${n}@bb.com:joan@bb.com`));
  assert.ok(log.stats.buffered <= 2_000);
  const dropped = log.stats.dropped;
  assert.ok(dropped > 400);
  release!();
  await settle();
  clock.advance(100);
  await settle();
  release!();
  await settle();
  assert.ok(text.endsWith(`${droppedMarker(dropped)}\n`), text.slice(-200));
  const closing = log.close();
  await settle();
  release!();
  await closing;
});

/** A sink of several files: `reopen` and `rotate` start the next one. */
class FilesSink implements LogSink {
  files: string[] = [""];
  rotations: number[] = [];
  get size(): number {
    return this.files.at(-1)!.length;
  }
  write(text: string): Promise<void> {
    this.files[this.files.length - 1] += text;
    return Promise.resolve();
  }
  close(): void {}
  reopen(): Promise<void> {
    this.files.push("");
    return Promise.resolve();
  }
  rotate(keep: number): Promise<void> {
    this.rotations.push(keep);
    return this.reopen();
  }
}

Deno.test("reopen ends the old file with its closing marker and begins the new one with the opening marker", async () => {
  const clock = new ManualClock();
  const sink = new FilesSink();
  const log = new PacketLog({ sink, clock, flushMs: 250 });
  log.received(NODE, bytes("PRlaura@bb.com"));
  const reopened = log.reopen();
  // Recorded while the old file is being finished: it belongs to the new one.
  log.received(NODE, bytes("PRjoan@bb.com"));
  await reopened;
  await log.close();
  strictEqual(
    sink.files[0],
    `${LOG_OPEN_MARKER}\nR: 10.100.100.104:UDP:3344, PRlaura@bb.com, 14\n${LOG_CLOSE_MARKER}\n`,
  );
  strictEqual(
    sink.files[1],
    `${LOG_OPEN_MARKER}\nR: 10.100.100.104:UDP:3344, PRjoan@bb.com, 13\n${LOG_CLOSE_MARKER}\n`,
  );
});

Deno.test("a log that reaches maxFileBytes rotates, keeping the number asked", async () => {
  const clock = new ManualClock();
  const sink = new FilesSink();
  const log = new PacketLog({ sink, clock, flushMs: 10, maxFileBytes: 100, keep: 3 });
  for (let i = 0; i < 4; i++) log.received(NODE, bytes(`PLlaura@bb.com:u${i}@bb.com`));
  await log.flush();
  await tick();
  await log.close();
  assert.deepEqual(sink.rotations, [3]);
  strictEqual(sink.files.length, 2);
  assert.ok(sink.files[0]!.endsWith(`${LOG_CLOSE_MARKER}\n`));
  strictEqual(sink.files[1], `${LOG_OPEN_MARKER}\n${LOG_CLOSE_MARKER}\n`);
});
