import assert from "#assert";
import { newIdentity } from "../../crypto/mod.ts";
import {
  capability,
  checkCapability,
  isSecretText,
  newGroupSecret,
  secretFromText,
  secretToText,
} from "./capability.ts";

const bo = newIdentity().publicKey;

Deno.test("a capability admits the address and key it was made for, and nothing else", () => {
  const secret = newGroupSecret();
  const cap = capability(secret, "k3x9q2ma", "bo@aa.test", bo);
  assert.ok(checkCapability(secret, "k3x9q2ma", "bo@aa.test", bo, cap));
  assert.ok(checkCapability(secret, "k3x9q2ma", "BO@aa.test", bo, cap), "addresses ignore case");
  assert.ok(!checkCapability(secret, "k3x9q2ma", "eve@aa.test", bo, cap), "another address");
  assert.ok(!checkCapability(secret, "k3x9q2ma", "bo@aa.test", newIdentity().publicKey, cap));
  assert.ok(!checkCapability(secret, "other123", "bo@aa.test", bo, cap), "another group");
  assert.ok(!checkCapability(newGroupSecret(), "k3x9q2ma", "bo@aa.test", bo, cap), "forged");
  assert.ok(!checkCapability(secret, "k3x9q2ma", "bo@aa.test", bo, undefined), "none");
  assert.ok(!checkCapability(secret, "k3x9q2ma", "bo@aa.test", bo, cap.subarray(0, 16)));
});

Deno.test("secrets and capabilities travel as 43 characters of URL-safe base64", () => {
  const secret = newGroupSecret();
  const text = secretToText(secret);
  assert.ok(isSecretText(text));
  assert.deepEqual(secretFromText(text), secret);
  assert.equal(secretFromText("short"), undefined);
  assert.ok(!isSecretText(`${text}x`));
});
