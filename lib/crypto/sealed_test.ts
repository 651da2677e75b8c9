import assert from "#assert";
import { generateKeyPair } from "./noise.ts";
import { newMessageId, open, seal, SEALED_OVERHEAD, SealedError } from "./sealed.ts";

const laura = generateKeyPair();
const joan = generateKeyPair();
const text = {
  kind: "text",
  id: "00112233445566ff",
  sent: 1_700_000_000_123,
  from: "laura@bb.com",
  text: "hola, Joan ✓",
} as const;

Deno.test("a sealed line opens with the recipient's key and names its sender's key", async () => {
  const sealed = await seal(laura, joan.publicKey, "joan@cc.com", text);
  assert.equal(
    sealed.length,
    SEALED_OVERHEAD + 18 + 12 + new TextEncoder().encode(text.text).length,
  );
  const opened = await open(joan, "joan@cc.com", sealed);
  assert.deepEqual(opened.payload, text);
  assert.deepEqual(opened.senderKey, laura.publicKey);
});

Deno.test("a receipt round-trips", async () => {
  const receipt = {
    kind: "receipt",
    id: newMessageId(),
    sent: 5,
    from: "joan@cc.com",
    of: [text.id, "ffeeddccbbaa9988"],
  } as const;
  const opened = await open(
    laura,
    "laura@bb.com",
    await seal(joan, laura.publicKey, "laura@bb.com", receipt),
  );
  assert.deepEqual(opened.payload, receipt);
});

Deno.test("a sealed line does not open for another key, another address, or changed", async () => {
  const sealed = await seal(laura, joan.publicKey, "joan@cc.com", text);
  await assert.rejects(() => open(laura, "joan@cc.com", sealed), SealedError);
  await assert.rejects(() => open(joan, "pere@cc.com", sealed), SealedError);
  for (const at of [0, 5, 40, 90, sealed.length - 1]) {
    const changed = sealed.slice();
    changed[at]! ^= 1;
    await assert.rejects(() => open(joan, "joan@cc.com", changed), SealedError);
  }
  await assert.rejects(() => open(joan, "joan@cc.com", sealed.subarray(0, 100)), SealedError);
});

Deno.test("two seals of the same line differ (a fresh ephemeral key each)", async () => {
  const a = await seal(laura, joan.publicKey, "joan@cc.com", text);
  const b = await seal(laura, joan.publicKey, "joan@cc.com", text);
  assert.notDeepEqual(a, b);
  assert.match(newMessageId(), /^[0-9a-f]{16}$/);
});
