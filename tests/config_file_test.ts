/** nodelumi.cfg on a real disk: hand edits are never overwritten, reload reads them, odd files are refused. */

import { ok, rejects, strictEqual } from "#assert";
import { ConfigError } from "../lib/node/config.ts";
import { ConfigChangedError, ConfigStore, loadConfig } from "../lib/node/config_file.ts";
import { tempDir } from "./support/process.ts";

async function storeOf(text: string) {
  const path = `${await tempDir("cfg-")}/nodelumi.cfg`;
  await Deno.writeTextFile(path, text);
  const loaded = await loadConfig(path);
  return { path, store: new ConfigStore(path, loaded.config, loaded.text, "bb.com") };
}

Deno.test("a save after a hand edit writes nothing and says so; after reload it saves", async () => {
  const { path, store } = await storeOf("domain = bb.com\n[users]\nlaura\n");
  await store.save(["laura", "joan"]);
  strictEqual(await Deno.readTextFile(path), "domain = bb.com\n[users]\nlaura\njoan\n");
  const edit = "domain = bb.com ; edited by hand\n[users]\nlaura\njoan\nmarta\n";
  await Deno.writeTextFile(path, edit);
  await rejects(store.save(["laura", "joan", "pere"]), (error: unknown) => {
    if (!(error instanceof ConfigChangedError)) return false;
    ok(/changed on disk since the node read it.*"reload"/.test(error.message), error.message);
    return true;
  });
  strictEqual(await Deno.readTextFile(path), edit);
  const { users, note } = await store.reload();
  strictEqual(users.join(), "laura,joan,marta");
  strictEqual(note, undefined, "only the users changed");
  await store.save([...users, "pere"]);
  strictEqual(
    await Deno.readTextFile(path),
    "domain = bb.com ; edited by hand\n[users]\nlaura\njoan\nmarta\npere\n",
  );
});

Deno.test("reload refuses another domain or a broken file, notes other settings, and a removed file is not recreated", async () => {
  const { path, store } = await storeOf("bb.com laura\n");
  await Deno.writeTextFile(path, "cc.com laura\n");
  await rejects(
    store.reload(),
    (e: unknown) => e instanceof ConfigError && /restart/.test(e.message),
  );
  await Deno.writeTextFile(path, "domain = bb.com\nlisten = nowhere\n");
  await rejects(
    store.reload(),
    (e: unknown) => e instanceof ConfigError && /line 2: listen/.test(e.message),
  );
  await Deno.writeTextFile(path, "domain = BB.com\nlisten = 127.0.0.1:4000\n[users]\nlaura\n");
  const { note } = await store.reload();
  ok(note?.includes("next start"), note);
  await Deno.remove(path);
  await rejects(
    store.save(["laura"]),
    (e: unknown) => e instanceof ConfigChangedError && /was removed on disk/.test(e.message),
  );
  await rejects(Deno.stat(path), Deno.errors.NotFound);
});

Deno.test("a configuration larger than the bound is refused without reading it all", async () => {
  const path = `${await tempDir("cfg-")}/nodelumi.cfg`;
  {
    using file = await Deno.open(path, { write: true, create: true });
    await file.truncate(65 * 2 ** 20); // sparse: no disk used
  }
  await rejects(
    loadConfig(path),
    (e: unknown) => e instanceof ConfigError && /larger than 64 MiB/.test(e.message),
  );
});
