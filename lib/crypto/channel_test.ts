import { deepStrictEqual, strictEqual } from "#assert";
import { SecureChannel } from "./channel.ts";
import { generateKeyPair, HandshakeState } from "./noise.ts";

async function pair(): Promise<[SecureChannel, SecureChannel]> {
  const i = new HandshakeState({ pattern: "XX", initiator: true, staticKeys: generateKeyPair() });
  const r = new HandshakeState({ pattern: "XX", initiator: false, staticKeys: generateKeyPair() });
  await r.readMessage(await i.writeMessage());
  await i.readMessage(await r.writeMessage());
  await r.readMessage(await i.writeMessage());
  return [
    new SecureChannel(i.result!.send, i.result!.receive),
    new SecureChannel(r.result!.send, r.result!.receive),
  ];
}

const text = (s: string) => new TextEncoder().encode(s);

Deno.test("channel: records open in order, both ways", async () => {
  const [a, b] = await pair();
  for (const line of ["hello", "", "x".repeat(5000)]) {
    deepStrictEqual(b.open(a.seal(text(line))), { ok: true, plaintext: text(line) });
    deepStrictEqual(a.open(b.seal(text(line))), { ok: true, plaintext: text(line) });
  }
});

Deno.test("channel: a replayed record is refused as replayed and ends the channel", async () => {
  const [a, b] = await pair();
  const first = a.seal(text("one"));
  strictEqual(b.open(first).ok, true);
  const again = b.open(first);
  strictEqual(again.ok === false && again.fault, "replayed");
  strictEqual(b.failed, "replayed");
  strictEqual(b.open(a.seal(text("two"))).ok, false);
});

Deno.test("channel: a record after a missing one is refused as dropped", async () => {
  const [a, b] = await pair();
  a.seal(text("lost"));
  const r = b.open(a.seal(text("next")));
  strictEqual(r.ok === false && r.fault, "dropped");
});

Deno.test("channel: a changed byte, in the body or the counter, is tampered", async () => {
  for (const at of [0, 7, 8, 12, 30]) {
    const [a, b] = await pair();
    const record = a.seal(text("pay 10 euros"));
    record[at]! ^= 0x01;
    const r = b.open(record);
    strictEqual(r.ok === false && r.fault, "tampered", `byte ${at}`);
  }
});

Deno.test("channel: a record too short to hold counter and tag is refused", async () => {
  const [, b] = await pair();
  const r = b.open(new Uint8Array(20));
  strictEqual(r.ok === false && r.fault, "short");
});
