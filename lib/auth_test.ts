import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import {
  authMessage,
  createCredentials,
  deriveClientKey,
  fromBase64Url,
  makeProof,
  newNonce,
  toBase64Url,
  verifyProof,
} from "./auth.ts";

const FAST = 1_000; // iterations: the tests check the scheme, not the cost

Deno.test("a proof made from the right password verifies", async () => {
  const stored = await createCredentials("s3cret", FAST);
  const clientKey = await deriveClientKey("s3cret", stored.salt, stored.iterations);
  const message = authMessage("PR", "laura@bb.com", newNonce());
  assert(await verifyProof(stored, message, await makeProof(clientKey, message)));
});

Deno.test("a proof from a wrong password, or for another nonce, is refused", async () => {
  const stored = await createCredentials("s3cret", FAST);
  const wrongKey = await deriveClientKey("secret", stored.salt, stored.iterations);
  const message = authMessage("PR", "laura@bb.com", "nonce-1");
  assertEquals(await verifyProof(stored, message, await makeProof(wrongKey, message)), false);
  const rightKey = await deriveClientKey("s3cret", stored.salt, stored.iterations);
  const proof = await makeProof(rightKey, message);
  assertEquals(
    await verifyProof(stored, authMessage("PR", "laura@bb.com", "nonce-2"), proof),
    false,
  );
  assertEquals(
    await verifyProof(stored, authMessage("PD", "laura@bb.com", "nonce-1"), proof),
    false,
  );
  assertEquals(await verifyProof(stored, message, proof.subarray(1)), false);
});

Deno.test("stored credentials do not contain the client key, and salts differ", async () => {
  const a = await createCredentials("same", FAST);
  const b = await createCredentials("same", FAST);
  assert(toBase64Url(a.salt) !== toBase64Url(b.salt));
  assert(toBase64Url(a.storedKey) !== toBase64Url(b.storedKey));
  const clientKey = await deriveClientKey("same", a.salt, a.iterations);
  assert(toBase64Url(clientKey) !== toBase64Url(a.storedKey));
});

Deno.test("base64url round-trips every length and rejects bad text", () => {
  for (let n = 0; n < 40; n++) {
    const bytes = crypto.getRandomValues(new Uint8Array(n));
    const text = toBase64Url(bytes);
    assert(/^[A-Za-z0-9_-]*$/.test(text));
    assertEquals(fromBase64Url(text), bytes);
  }
  assertEquals(fromBase64Url("a:b"), undefined);
  assertEquals(fromBase64Url("abcde"), undefined);
  assertEquals(newNonce().length, 22);
});
