import { deepStrictEqual, ok, strictEqual } from "#assert";
import { ChannelHandshake, conversationPrologue } from "./handshake.ts";
import { newIdentity } from "./identity.ts";

const ana = newIdentity(), bo = newIdentity();

function sides(callerNick = "Ana", calleeNick = "Bo", calleeSeen = calleeNick) {
  const caller = new ChannelHandshake({
    initiator: true,
    identity: ana,
    address: "ana@aa.test",
    prologue: conversationPrologue(callerNick, calleeNick),
  });
  const callee = new ChannelHandshake({
    initiator: false,
    identity: bo,
    address: "bo@aa.test",
    prologue: conversationPrologue(callerNick, calleeSeen),
  });
  return { caller, callee };
}

Deno.test("handshake: both sides learn the other's address and key, and can talk", async () => {
  const { caller, callee } = sides();
  const m2 = await callee.receive(await caller.start());
  if (m2.kind !== "send") throw new Error(m2.kind);
  const done = await caller.receive(m2.send);
  if (done.kind !== "established" || done.send === undefined) throw new Error(done.kind);
  const end = await callee.receive(done.send);
  if (end.kind !== "established") throw new Error(end.kind);
  strictEqual(done.peerAddress, "bo@aa.test");
  strictEqual(end.peerAddress, "ana@aa.test");
  deepStrictEqual(done.peerKey, bo.publicKey);
  deepStrictEqual(end.peerKey, ana.publicKey);
  deepStrictEqual(done.handshakeHash, end.handshakeHash);
  const line = new TextEncoder().encode("hi");
  deepStrictEqual(end.channel.open(done.channel.seal(line)), { ok: true, plaintext: line });
});

Deno.test("handshake: nicknames changed on the way make it fail", async () => {
  const { caller, callee } = sides("Ana", "Bo", "Mallory");
  const m2 = await callee.receive(await caller.start());
  if (m2.kind !== "send") throw new Error(m2.kind);
  const r = await caller.receive(m2.send);
  strictEqual(r.kind, "error");
  ok(r.kind === "error" && r.reason.includes("handshake failed"));
});

Deno.test("handshake: garbage instead of a handshake message is an error, not a throw", async () => {
  const { callee } = sides();
  strictEqual((await callee.receive(new Uint8Array(5))).kind, "error");
});
