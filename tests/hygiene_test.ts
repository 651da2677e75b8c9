/**
 * Test hygiene, as tests: the test task runs the unit tests beside the code
 * with no permission at all and the rest with leak tracing, and the shared
 * test kit lives in one place (`tests/support/`), which `scripts/` may use
 * but which never reaches into `scripts/`.
 *
 * @module
 */

import assert from "#assert";
import { projectRoot } from "./support/process.ts";

/** Every `.ts` file under `dir` (a path relative to the project root), recursively. */
async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${projectRoot}${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await sources(path));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found.sort();
}

/** Matches what a module imports or points at: `from "…"`, `import("…")`, `new URL("…", import.meta.url)`. */
const REFERENCE =
  /\bfrom\s+"([^"]+)"|\bimport\s*\(\s*"([^"]+)"\s*\)|^import\s+"([^"]+)"|new URL\(\s*"([^"]+)",\s*import\.meta\.url\s*\)/gm;

/** The project files that `file` (relative to the project root) refers to, relative to the root. */
async function references(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(`${projectRoot}${file}`);
  const root = new URL(`file://${projectRoot}`);
  const found: string[] = [];
  for (const match of text.matchAll(REFERENCE)) {
    const specifier = match.slice(1).find((group) => group !== undefined)!;
    if (!specifier.startsWith(".")) continue; // "#assert", "npm:…", "node:…"
    const target = new URL(specifier, new URL(file, root)).href;
    found.push(target.slice(root.href.length));
  }
  return found;
}

Deno.test("the test task runs lib/'s unit tests with no permission, then tests/ with leak tracing", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${projectRoot}deno.json`));
  const task: string | { command: string } = config.tasks.test;
  const command = typeof task === "string" ? task : task.command;
  const steps = command.split("&&").map((step) => step.trim().split(/\s+/));
  assert.equal(steps.length, 2, "two steps: the unit tests, then the tests with processes");
  const [unit, system] = steps as [string[], string[]];
  assert.deepEqual(unit.slice(0, 2), ["deno", "test"]);
  assert.equal(unit.at(-1), "lib/", "the first step runs the unit tests beside the code");
  assert.deepEqual(
    unit.filter((word) => word.startsWith("--allow") || word === "-A"),
    [],
    "the unit tests get no permission",
  );
  assert.deepEqual(system.slice(0, 2), ["deno", "test"]);
  // The unit tests say where a leak was opened; the tests with processes (where tracing every
  // op costs a quarter of their time) still fail on a leak, without the place.
  assert.ok(unit.includes("--trace-leaks"), unit.join(" "));
  // No path in the second step: `deno task test tests/x_test.ts` runs that file alone.
  const ignored = system.find((word) => word.startsWith("--ignore="))?.split("=")[1]?.split(",");
  assert.ok(ignored?.includes("lib/"), "lib/ runs once, in the first step, without permissions");
  assert.ok(!system.some((word) => /^(lib|tests)\/?$/.test(word)), system.join(" "));
});

Deno.test("the shared test kit is tests/support/ alone: it never reaches into scripts/", async () => {
  const kit = await sources("tests/support");
  assert.ok(kit.includes("tests/support/child.ts") && kit.includes("tests/support/task_flags.ts"));
  for (const file of kit) {
    for (const target of await references(file)) {
      assert.ok(!target.startsWith("scripts/"), `${file} refers to ${target}`);
    }
  }
  // The other way is the one allowed: the scripts use the kit (and the fuzzer among it).
  const used = (await Promise.all((await sources("scripts")).map(references))).flat();
  assert.ok(used.includes("tests/support/child.ts"), "the benchmarks drive processes with the kit");
  assert.ok(used.includes("tests/support/node_fuzz.ts"), "scripts/fuzz.ts runs the kit's fuzzer");
});

Deno.test("the code in lib/ refers to neither tests/ nor scripts/", async () => {
  for (const file of await sources("lib")) {
    for (const target of await references(file)) {
      assert.ok(!/^(tests|scripts)\//.test(target), `${file} refers to ${target}`);
    }
  }
});

Deno.test("a temporary directory of the kit is removed, files and all, when the module that made it ends", async () => {
  const kit = new URL("./support/process.ts", import.meta.url).href;
  const program = `import { tempDir } from ${JSON.stringify(kit)};
    const dir = await tempDir("unload-");
    await Deno.writeTextFile(dir + "/left-behind", "x");
    console.log(dir);`;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", program],
    cwd: projectRoot,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const dir = new TextDecoder().decode(stdout).trim();
  assert.ok(dir.startsWith(`${projectRoot}tests/.tmp/unload-`), dir);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});
