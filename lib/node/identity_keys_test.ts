import assert from "#assert";
import { AccountStore } from "./store.ts";
import { answerIdentity } from "./identity_keys.ts";
import type { ExtensionRequest } from "../plumi/messages.ts";

const KEY_A = "a".repeat(43), KEY_B = "b".repeat(43);

function setup() {
  const store = AccountStore.open(":memory:");
  const options = {
    store,
    isProtected: (name: string) => name === "ana" || name === "bo",
    isLocal: (domain: string) => domain === "aa.test",
  };
  const ask = (owner: string, ...params: string[]) =>
    answerIdentity(
      options,
      owner,
      {
        kind: "ext-request",
        type: "I",
        address: `${owner}@aa.test`,
        params: ["t=x", ...params],
      } satisfies ExtensionRequest,
    );
  return { store, ask };
}

Deno.test("identity keys: a password account's key is bound; another is refused unless replaced", () => {
  const { store, ask } = setup();
  assert.deepEqual(ask("ana", `ik=${KEY_A}`).code, 0);
  assert.deepEqual(ask("ana", `ik=${KEY_A}`).code, 0);
  assert.deepEqual(ask("ana", `ik=${KEY_B}`).params, ["e=changed"]);
  assert.equal(store.identityKey("ana"), KEY_A);
  assert.equal(ask("ana", `ik=${KEY_B}`, "replace").code, 0);
  assert.equal(store.identityKey("ana"), KEY_B);
  store.close();
});

Deno.test("identity keys: the node vouches only for bound keys of its own password accounts", () => {
  const { store, ask } = setup();
  ask("bo", `ik=${KEY_A}`);
  assert.deepEqual(ask("ana", "w=bo@aa.test").params, ["w=bo@aa.test", `ik=${KEY_A}`]);
  assert.equal(ask("ana", "w=cy@aa.test").code, 2);
  assert.equal(ask("ana", "w=bo@other.test").code, 2);
  assert.deepEqual(ask("cy", `ik=${KEY_A}`).params, ["e=nopass"]);
  assert.deepEqual(ask("ana", "ik=short").params, ["e=invalid"]);
  assert.deepEqual(ask("ana").params, ["e=invalid"]);
  store.close();
});
