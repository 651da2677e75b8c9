/** Crash-safe file replacement, and tidying up after a crash. */

import assert from "#assert";
import { removeStaleTemps, writeFileAtomic } from "../lib/atomic_file.ts";
import { tempDir } from "./support/process.ts";

Deno.test("an atomic write replaces the whole file and leaves no temporary file", async () => {
  const dir = await tempDir("atomic-");
  await Deno.writeTextFile(`${dir}/nodelumi.cfg`, "old\n");
  await writeFileAtomic(`${dir}/nodelumi.cfg`, "bb.com\nlaura\n");
  assert.equal(await Deno.readTextFile(`${dir}/nodelumi.cfg`), "bb.com\nlaura\n");
  const names = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  assert.deepEqual(names, ["nodelumi.cfg"]);
});

Deno.test("temporary files left by a crash are removed, and nothing else", async () => {
  const dir = await tempDir("atomic-");
  for (
    const name of [
      "nodelumi.cfg",
      "nodelumi.cfg.tmp-123-abcd1234",
      "nodelumi.cfg.tmp-9-x",
      "other.tmp-1",
      "nodelumi.cfgx",
    ]
  ) {
    await Deno.writeTextFile(`${dir}/${name}`, "x");
  }
  assert.equal(await removeStaleTemps(`${dir}/nodelumi.cfg`), 2);
  const names = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  assert.deepEqual(names.sort(), ["nodelumi.cfg", "nodelumi.cfgx", "other.tmp-1"]);
});

Deno.test("an atomic write keeps the replaced file's mode, or gives the one asked for from the first byte", async () => {
  const dir = await tempDir("atomic-");
  const config = `${dir}/nodelumi.cfg`;
  await Deno.writeTextFile(config, "old\n");
  await Deno.chmod(config, 0o640);
  await writeFileAtomic(config, "bb.com\n");
  assert.equal((await Deno.stat(config)).mode! & 0o777, 0o640);
  const state = `${dir}/nodelumi-bb.com.state`;
  await Deno.writeTextFile(state, "{}\n");
  await Deno.chmod(state, 0o644);
  await writeFileAtomic(state, "{}\n", { mode: 0o600 });
  assert.equal((await Deno.stat(state)).mode! & 0o777, 0o600);
  await Deno.remove(dir, { recursive: true });
});
