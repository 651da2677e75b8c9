import assert from "#assert";
import { ManualClock, systemClock } from "../../clock.ts";
import { connPair, readText, tick } from "../_testing.ts";
import { OverloadError, PeerTimeoutError } from "../errors.ts";
import { PmiLink } from "./pmi_link.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("a frame that does not complete within the frame timeout fails the link", async () => {
  const clock = new ManualClock();
  const [ours, theirs] = connPair();
  const link = new PmiLink({ conn: ours, clock, frameTimeoutMs: 1_000 });
  const next = link.next().then(() => undefined, (e) => e);
  await theirs.write(bytes("L0"));
  await tick();
  clock.advance(999);
  await theirs.write(bytes("5he"));
  await tick();
  clock.advance(1);
  const error = await next;
  assert.ok(error instanceof PeerTimeoutError);
  assert.equal(error.message, "took more than 1 s to send one frame");
});

Deno.test("complete frames, however slowly they come, never trip the frame timeout", async () => {
  const clock = new ManualClock();
  const [ours, theirs] = connPair();
  const link = new PmiLink({ conn: ours, clock, frameTimeoutMs: 1_000 });
  for (let i = 0; i < 3; i++) {
    await theirs.write(bytes("L02hi"));
    assert.deepEqual(await link.next(), { kind: "line", text: "hi" });
    clock.advance(60_000);
  }
  await theirs.write(bytes("L01"));
  await tick();
  clock.advance(500);
  await theirs.write(bytes("xL0"));
  assert.deepEqual(await link.next(), { kind: "line", text: "x" });
  clock.advance(999);
  await theirs.write(bytes("0"));
  assert.deepEqual(await link.next(), { kind: "line", text: "" });
  link.close();
  assert.equal(await link.next(), null);
});

Deno.test("writes never wait; a peer that does not read is cut off past the queue bound", async () => {
  const stuck = {
    ...connPair()[0],
    remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } as Deno.NetAddr,
    write: () => new Promise<number>(() => {}),
    close: () => {},
  };
  const link = new PmiLink({ conn: stuck, clock: systemClock, maxQueuedBytes: 1_000 });
  for (let i = 0; i < 9; i++) assert.ok(link.write(new Uint8Array(100)));
  assert.equal(link.write(new Uint8Array(200)), false);
  assert.ok(link.failure instanceof OverloadError);
  await assert.rejects(link.next(), OverloadError);
});

Deno.test("queued writes go out in order, joined, and flush waits for them", async () => {
  const [ours, theirs] = connPair();
  const link = new PmiLink({ conn: ours, clock: systemClock });
  for (const part of ["L01a", "L01b", "L01c"]) link.write(bytes(part));
  await link.flush(1_000);
  assert.equal(link.queuedBytes, 0);
  assert.equal(await readText(theirs, 12), "L01aL01bL01c");
  link.close();
});

Deno.test("towards an original peer, frames go one per write, each paced from the one before", async () => {
  const clock = new ManualClock();
  const [ours, theirs] = connPair();
  const link = new PmiLink({ conn: ours, clock, paceMs: 50 });
  link.write(bytes("L02hiL03you")); // one long line: two frames
  link.write(bytes("L01!"));
  const buffer = new Uint8Array(102);
  const readOnce = async () => {
    const n = await theirs.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  };
  assert.equal(await readOnce(), "L02hi");
  let second: string | undefined;
  const reading = readOnce().then((text) => (second = text));
  clock.advance(49);
  await tick();
  assert.equal(second, undefined);
  clock.advance(1);
  await reading;
  assert.equal(second, "L03you");
  const third = readOnce();
  clock.advance(50);
  assert.equal(await third, "L01!");
  assert.equal(link.queuedBytes, 0);
  // A frame written after the queue emptied still keeps its distance from the last one.
  clock.advance(10);
  link.write(bytes("L01?"));
  let fourth: string | undefined;
  const late = readOnce().then((text) => (fourth = text));
  await tick();
  clock.advance(39);
  await tick();
  assert.equal(fourth, undefined);
  clock.advance(1);
  await late;
  assert.equal(fourth, "L01?");
  // Closing during a pause ends it at once.
  clock.advance(50);
  link.write(bytes("L01aL01b"));
  assert.equal(await readOnce(), "L01a");
  link.close();
  await link.flush(1_000);
});
