/**
 * The project's gates, as tests: formatting, lint and type checks pass (the
 * parts of `deno task check` other than the tests themselves), and the
 * compiled binaries get exactly the permissions the tests run the programs
 * with.
 */

import assert from "#assert";
import { taskFlags } from "./support/task_flags.ts";
import { projectRoot } from "./support/process.ts";

async function deno(args: string[]): Promise<{ code: number; output: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: projectRoot,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  return { code, output };
}

Deno.test("the code is formatted, lint-clean and type-checks (deno task check's gates)", async () => {
  for (
    const gate of [
      ["fmt", "--check"],
      ["lint"],
      ["check", "main_node.ts", "main_agent.ts", "scripts/", "tests/", "lib/"],
    ]
  ) {
    const { code, output } = await deno(gate);
    assert.equal(code, 0, `deno ${gate.join(" ")} failed:\n${output.slice(-4000)}`);
  }
});

Deno.test("every compiled binary has exactly the permission flags its tested task has", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${projectRoot}deno.json`));
  // A task is a command, or `{ description, command }`.
  const tasks: Record<string, string> = Object.fromEntries(
    Object.entries(config.tasks as Record<string, string | { command: string }>).map((
      [name, task],
    ) => [name, typeof task === "string" ? task : task.command]),
  );
  for (const program of ["node", "agent"] as const) {
    const tested = (await taskFlags(program)).sort();
    const compiles = Object.entries(tasks).filter(([name]) =>
      name.startsWith(`compile:${program}:`)
    );
    assert.equal(compiles.length, 5, `five compile targets for the ${program}`);
    for (const [name, command] of compiles) {
      const flags = command.split(/\s+/).filter((w) =>
        w.startsWith("--allow") || w.startsWith("--unstable")
      );
      assert.deepEqual(flags.sort(), tested, `${name} ships other permissions than the tests use`);
      assert.ok(!/\s-A\b|--allow-all/.test(command), `${name} must not allow everything`);
    }
  }
});
