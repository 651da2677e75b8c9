/** The account database: a real SQLite file, reopened as after a restart. */

import { deepStrictEqual as assertEquals, ok as assert, throws as assertThrows } from "#assert";
import { createCredentials } from "../lib/auth.ts";
import { DatabaseSync } from "node:sqlite";
import { AccountStore, APPLICATION_ID, StoreError } from "../lib/node/store.ts";
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

Deno.test("a database of ours from before application_id is recognised by its tables and marked", async () => {
  const path = `${await tempDir("store-")}/accounts.db`;
  const credentials = await createCredentials("pw", 1_000);
  AccountStore.open(path).close();
  {
    using old = new DatabaseSync(path);
    old.exec("PRAGMA application_id = 0");
    old.prepare("INSERT INTO accounts (name, signed_up, created_at) VALUES ('laura', 0, 1)").run();
  }
  using store = AccountStore.open(path);
  assertEquals(store.accounts().map((a) => a.name), ["laura"]);
  assert(store.signUp("nuria", credentials));
  using check = new DatabaseSync(path, { readOnly: true });
  assertEquals(
    Number(Object.values(check.prepare("PRAGMA application_id").get()!)[0]),
    APPLICATION_ID,
  );
});

Deno.test("another program's database is refused before anything is written, and says whose it is", async () => {
  const dir = await tempDir("store-");
  for (
    const [name, sql] of [
      ["tables.db", "CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT)"],
      ["id.db", "PRAGMA application_id = 7"],
      ["version.db", "PRAGMA user_version = 3"],
      [
        "extra.db",
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); CREATE VIEW v AS SELECT 1",
      ],
    ]
  ) {
    const path = `${dir}/${name}`;
    {
      using db = new DatabaseSync(path);
      db.exec(sql!);
    }
    const before = await Deno.readFile(path);
    assertThrows(
      () => AccountStore.open(path),
      (error: unknown) =>
        error instanceof StoreError && error.fault === "foreign" &&
        /belongs to another program .*it was not changed/.test(error.message),
    );
    assertEquals(await Deno.readFile(path), before, `${name} changed`);
  }
});

Deno.test("a locked database: a write waits the busy timeout, then fails at once during the back-off; one event per burst", async () => {
  const path = `${await tempDir("store-")}/accounts.db`;
  const credentials = await createCredentials("pw", 1_000);
  let now = 0;
  const events: string[] = [];
  using store = AccountStore.open(path, {
    busyTimeoutMs: 50,
    lockedBackoffMs: 1_000,
    now: () => now,
    onEvent: (e) =>
      events.push(e.kind === "failing" ? `failing ${e.error.fault}` : `recovered ${e.failures}`),
  });
  using admin = new DatabaseSync(path);
  admin.exec("BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('x', 'y')");
  const started = performance.now();
  assertThrows(
    () => store.signUp("nuria", credentials),
    (e: unknown) =>
      e instanceof StoreError && e.fault === "locked" &&
      /another program holds a write lock/.test(e.message),
  );
  const waited = performance.now() - started;
  assert(waited >= 40 && waited < 1_000, `waited ${waited} ms`);
  // Within the back-off: refused without waiting (the lock is gone, but the store does not look).
  admin.exec("ROLLBACK");
  now = 999;
  const quick = performance.now();
  assertThrows(() => store.addBuddy("nuria", "laura@bb.com"), StoreError);
  assert(performance.now() - quick < 40);
  assertEquals(store.buddies("nuria"), [], "reads still work");
  now = 1_000;
  assert(store.signUp("nuria", credentials));
  assertEquals(events, ["failing locked", "recovered 2"]);
  assertEquals(store.failures, 2);
  assertEquals(store.failing, false);
});

Deno.test("a database in an immutable folder is refused at start saying why, not called corrupt", async () => {
  const dir = await tempDir("store-");
  const path = `${dir}/accounts.db`;
  AccountStore.open(path).close();
  await chattr("+i", dir);
  try {
    assertThrows(
      () => AccountStore.open(path),
      (error: unknown) =>
        error instanceof StoreError && error.fault === "read-only" &&
        /must be writable/.test(error.message) &&
        !/backup/.test(error.message),
    );
  } finally {
    await chattr("-i", dir);
  }
});

async function chattr(flag: string, path: string): Promise<void> {
  const { code } = await new Deno.Command("chattr", { args: [flag, path] }).output();
  assertEquals(code, 0, `chattr ${flag} ${path}`);
}

Deno.test("a database opened while immutable is read-only; after chattr -i the store reconnects and writes", async () => {
  const path = `${await tempDir("store-")}/accounts.db`;
  const credentials = await createCredentials("pw", 1_000);
  AccountStore.open(path).close();
  let now = 0;
  const events: string[] = [];
  await chattr("+i", path);
  let store: AccountStore;
  try {
    store = AccountStore.open(path, {
      now: () => now,
      onEvent: (e) => events.push(e.kind === "failing" ? e.error.fault : e.kind),
    });
    assertEquals(store.accounts(), [], "reads work");
    assertThrows(
      () => store.signUp("nuria", credentials),
      (e: unknown) => e instanceof StoreError && e.fault === "read-only",
    );
  } finally {
    await chattr("-i", path);
  }
  using _ = store;
  assertThrows(() => store.signUp("nuria", credentials), StoreError, "no reconnect within 1 s");
  now = 1_000;
  assert(store.signUp("nuria", credentials));
  assertEquals(events, ["read-only", "recovered"]);
});
