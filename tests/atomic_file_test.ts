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
