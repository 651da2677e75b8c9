import assert from "#assert";
import { ManualClock } from "../../clock.ts";
import type { LookupRequest } from "../../plumi/messages.ts";
import { MemorySocket, tick } from "../_testing.ts";
import { AbortedError, NodeSilentError } from "../errors.ts";
import { PlumiClient } from "./client.ts";

const node = { ip: "127.0.0.1", port: 3344 };
const register = { kind: "register", address: "laura@bb.com", params: [] } as const;
const isRegisterReply = (m: { kind: string }) => m.kind === "register-reply";

function setup(onLookup?: (request: LookupRequest) => boolean) {
  const clock = new ManualClock();
  const socket = new MemorySocket();
  const client = new PlumiClient({
    socket,
    node,
    clock,
    onLookup: onLookup && ((request) => onLookup(request)),
  });
  client.start();
  return { clock, socket, client };
}

Deno.test("a request is sent five times, one second apart, then the node does not respond", async () => {
  const { clock, socket, client } = setup();
  const result = client.request(register, isRegisterReply).then(() => undefined, (e) => e);
  await tick();
  assert.equal(socket.sent.length, 1);
  for (let attempt = 2; attempt <= 5; attempt++) {
    clock.advance(999);
    await tick();
    assert.equal(socket.sent.length, attempt - 1);
    clock.advance(1);
    await tick();
    assert.equal(socket.sent.length, attempt);
  }
  clock.advance(1000);
  const error = await result;
  assert.ok(error instanceof NodeSilentError);
  assert.equal(error.message, "the node does not respond (5 tries)");
  assert.deepEqual(socket.sent.map((s) => s.text), Array(5).fill("PRlaura@bb.com"));
  assert.deepEqual(socket.sent[0]!.to, node);
  await client.close();
});

Deno.test("an answer to a retransmission ends the request", async () => {
  const { clock, socket, client } = setup();
  const result = client.request(register, isRegisterReply);
  await tick();
  clock.advance(1000);
  await tick();
  assert.equal(socket.sent.length, 2);
  socket.deliver("RR0", node);
  const reply = await result;
  assert.deepEqual(reply, { kind: "register-reply", code: 0, params: [] });
  clock.advance(5000);
  await tick();
  assert.equal(socket.sent.length, 2);
  await client.close();
});

Deno.test("malformed and unexpected datagrams are counted and ignored", async () => {
  const { socket, client } = setup(() => true);
  socket.deliver("XX", node);
  socket.deliver(new Uint8Array([0x50, 0x4c, 0xff]), node);
  socket.deliver("RR0", node);
  await tick();
  assert.equal(client.ignored, 3);
  await client.close();
});

Deno.test("look-ups are handed over; one not for us counts as ignored", async () => {
  const seen: LookupRequest[] = [];
  const { socket, client } = setup((request) => {
    seen.push(request);
    return request.to === "laura@bb.com";
  });
  socket.deliver("PLjoan@bb.com:laura@bb.com", node);
  socket.deliver("PLjoan@bb.com:pere@bb.com", node);
  await tick();
  assert.deepEqual(seen.map((r) => r.to), ["laura@bb.com", "pere@bb.com"]);
  assert.equal(client.ignored, 1);
  await client.close();
});

Deno.test("aborting stops a request at once", async () => {
  const { socket, client } = setup();
  const controller = new AbortController();
  const result = client.request(register, isRegisterReply, controller.signal).then(
    () => undefined,
    (e) => e,
  );
  await tick();
  controller.abort();
  assert.ok(await result instanceof AbortedError);
  assert.equal(socket.sent.length, 1);
  await client.close();
});

Deno.test("closing the client ends pending requests", async () => {
  const { client } = setup();
  const result = client.request(register, isRegisterReply).then(() => undefined, (e) => e);
  await tick();
  await client.close();
  assert.ok(await result instanceof AbortedError);
});

Deno.test("datagrams from anyone but the node are counted and dropped: no forged answer or look-up gets in", async () => {
  const seen: LookupRequest[] = [];
  const clock = new ManualClock();
  const socket = new MemorySocket();
  const backup = { ip: "127.0.0.2", port: 4000 };
  const client = new PlumiClient({
    socket,
    node,
    trusted: [backup],
    clock,
    onLookup: (request) => (seen.push(request), true),
  });
  client.start();
  const lookup = { kind: "lookup", from: "laura@bb.com", to: "joan@bb.com" } as const;
  const result = client.request(lookup, (m) => m.kind === "lookup-reply");
  await tick();
  // The same port on another IP, and another port on the node's IP, are strangers.
  socket.deliver("RL0laura@bb.com:joan@bb.com:6.6.6.6:666", { ip: "6.6.6.6", port: 3344 });
  socket.deliver("RL0laura@bb.com:joan@bb.com:6.6.6.6:666", { ip: "127.0.0.1", port: 3345 });
  socket.deliver("PLboss@bb.com:laura@bb.com", { ip: "6.6.6.6", port: 3344 });
  await tick();
  assert.equal(client.strangers, 3);
  assert.equal(client.ignored, 3);
  assert.equal(client.heardAt, -Infinity);
  assert.deepEqual(seen, []);
  // The node, at any of its endpoints, is heard.
  clock.advance(10);
  socket.deliver("PLjoan@bb.com:laura@bb.com", backup);
  socket.deliver("RL3laura@bb.com:joan@bb.com", node);
  assert.deepEqual(await result, {
    kind: "lookup-reply",
    code: 3,
    from: "laura@bb.com",
    to: "joan@bb.com",
    extra: [],
  });
  assert.deepEqual(seen.map((r) => r.from), ["joan@bb.com"]);
  assert.equal(client.heardAt, 10);
  await client.close();
});
