import { deepStrictEqual as assertEquals, rejects as assertRejects } from "#assert";
import { generateKeyPair, HandshakeState, NoiseError } from "./noise.ts";

Deno.test("noise: XX gives each side the other's static key and one handshake hash", async () => {
  const alice = generateKeyPair(), bob = generateKeyPair();
  const init = new HandshakeState({ pattern: "XX", initiator: true, staticKeys: alice });
  const resp = new HandshakeState({ pattern: "XX", initiator: false, staticKeys: bob });
  await resp.readMessage(await init.writeMessage());
  await init.readMessage(await resp.writeMessage());
  await resp.readMessage(await init.writeMessage());
  assertEquals(init.result!.remoteStatic, bob.publicKey);
  assertEquals(resp.result!.remoteStatic, alice.publicKey);
  assertEquals(init.result!.handshakeHash, resp.result!.handshakeHash);
});

Deno.test("noise: a changed byte in a handshake message fails it", async () => {
  const init = new HandshakeState({
    pattern: "XX",
    initiator: true,
    staticKeys: generateKeyPair(),
  });
  const resp = new HandshakeState({
    pattern: "XX",
    initiator: false,
    staticKeys: generateKeyPair(),
  });
  await resp.readMessage(await init.writeMessage());
  const second = await resp.writeMessage(new TextEncoder().encode("bo@aa.test"));
  second[40]! ^= 1;
  await assertRejects(() => init.readMessage(second), NoiseError);
});

Deno.test("noise: different prologues fail the handshake", async () => {
  const init = new HandshakeState({
    pattern: "XX",
    initiator: true,
    staticKeys: generateKeyPair(),
    prologue: new Uint8Array([1]),
  });
  const resp = new HandshakeState({
    pattern: "XX",
    initiator: false,
    staticKeys: generateKeyPair(),
    prologue: new Uint8Array([2]),
  });
  await resp.readMessage(await init.writeMessage());
  await assertRejects(async () => init.readMessage(await resp.writeMessage()), NoiseError);
});

Deno.test("noise: short and out-of-turn messages are refused", async () => {
  const init = new HandshakeState({
    pattern: "XX",
    initiator: true,
    staticKeys: generateKeyPair(),
  });
  const resp = new HandshakeState({
    pattern: "XX",
    initiator: false,
    staticKeys: generateKeyPair(),
  });
  await assertRejects(() => init.readMessage(new Uint8Array(32)), NoiseError);
  await assertRejects(() => resp.writeMessage(), NoiseError);
  await assertRejects(() => resp.readMessage(new Uint8Array(10)), NoiseError);
});
