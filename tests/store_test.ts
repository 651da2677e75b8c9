/** The account database: a real SQLite file, reopened as after a restart. */

import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "#assert";
import { createCredentials } from "../lib/auth.ts";
import { AccountStore, StoreError } from "../lib/node/store.ts";
import { tempDir } from "./support/process.ts";

Deno.test("accounts, passwords and buddies survive closing and reopening the database", async () => {
  const path = `${await tempDir("store-")}/accounts.db`;
  const credentials = await createCredentials("pw", 1_000);
  {
    using store = AccountStore.open(path);
    assert(store.signUp("nuria", credentials, 1_000));
    assertEquals(store.signUp("nuria", credentials, 2_000), false, "a name is taken once");
    store.setPassword("laura", credentials, 3_000);
    assert(store.addBuddy("laura", "nuria@bb.com"));
    assertEquals(store.addBuddy("laura", "nuria@bb.com"), false);
    assert(store.addBuddy("laura", "joan@cc.com"));
    assert(store.addBuddy("nuria", "laura@bb.com"));
  }
  using store = AccountStore.open(path);
  assertEquals(store.accounts().map((a) => [a.name, a.signedUp]), [["nuria", true], [
    "laura",
    false,
  ]]);
  assertEquals(store.get("laura")?.credentials, credentials);
  assertEquals(store.buddies("laura"), ["joan@cc.com", "nuria@bb.com"]);
  assertEquals(store.watchers("laura@bb.com"), ["nuria"]);
  assert(store.hasBuddy("laura", "joan@cc.com"));
  assert(store.removeBuddy("laura", "joan@cc.com"));
  assertEquals(store.buddyCount("laura"), 1);
  assert(store.clearPassword("laura"));
  assertEquals(store.get("laura")?.credentials, undefined);
  store.remove("nuria");
  assertEquals(store.get("nuria"), undefined);
  assertEquals(store.buddies("nuria"), []);
});

Deno.test("a corrupt database file gives a clear error, not an empty start", async () => {
  const path = `${await tempDir("store-")}/accounts.db`;
  await Deno.writeTextFile(path, "this is not a database, it is a shopping list\n".repeat(200));
  assertThrows(
    () => AccountStore.open(path),
    (error: unknown) =>
      error instanceof StoreError && error.message.includes(path) &&
      /move it away/.test(error.message),
  );
});
