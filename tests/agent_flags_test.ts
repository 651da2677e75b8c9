/**
 * Flags and exit codes of both programs, with real processes (issue 14,
 * item 11): a bad flag exits 64 in both, naming the flag; an unknown flag
 * suggests the nearest one; `--version` prints the version of deno.json and
 * of Deno; a registration that finally fails exits non-zero, also when the
 * user at a terminal chooses to leave after it.
 *
 * @module
 */

import assert from "#assert";
import project from "../deno.json" with { type: "json" };
import { AccountNode } from "./support/account_node.ts";
import { startProgram, tempDir } from "./support/process.ts";
import { Keys, PtyProgram } from "./support/pty.ts";

async function run(program: "node" | "agent", args: string[], cwd: string) {
  await using child = await startProgram(program, args, { cwd, stdin: false });
  const status = await child.exited();
  return { code: status.code, stdout: child.lines, stderr: child.errors };
}

Deno.test("bad flags exit 64 in both programs, with the flag's name and the nearest known flag", async () => {
  const dir = await tempDir("flags-");
  await Deno.writeTextFile(`${dir}/nodelumi.cfg`, "bb.com laura\n");
  const cases: Array<["node" | "agent", string[], string]> = [
    ["agent", ["--adress", "laura@bb.com"], "Unknown flag --adress (did you mean --address?)"],
    ["agent", ["--max-chat", "3"], "Unknown flag --max-chat (did you mean --max-chats?)"],
    [
      "agent",
      ["--nick", "L", "--address", "l@bb.com", "--max-chats", "0"],
      "--max-chats must be a whole number from 1 to 1000",
    ],
    [
      "agent",
      ["--nick", "L", "--address", "l@bb.com", "--max-chats", "many"],
      "--max-chats must be a whole number from 1 to 1000",
    ],
    [
      "agent",
      ["--nick", "L", "--address", "l@bb.com", "--port", "70000"],
      "--port must be a whole number from 0 to 65535",
    ],
    [
      "agent",
      ["--nick", "L", "--address", "l@bb.com", "--nick-timeout", "0"],
      "--nick-timeout (seconds) must be a positive number",
    ],
    ["agent", ["--nick"], "--nick needs a value"],
    ["agent", ["--signup=yes"], "--signup takes no value"],
    ["agent", ["laura@bb.com"], 'Unexpected argument "laura@bb.com": every option is a flag'],
    ["node", ["--lisen", "127.0.0.1:0"], "Unknown flag --lisen (did you mean --listen?)"],
    ["node", ["--no-databse"], "Unknown flag --no-databse (did you mean --no-database?)"],
    ["node", ["--zzzzzz"], "Unknown flag --zzzzzz"],
    ["node", ["--config"], "--config needs a value"],
  ];
  const results = await Promise.all(cases.map(([program, args]) => run(program, args, dir)));
  cases.forEach(([program, args, message], i) => {
    const { code, stdout, stderr } = results[i]!;
    assert.deepEqual(
      { code, stdout, stderr },
      { code: 64, stdout: [], stderr: [message, "Try --help."] },
      `${program} ${args.join(" ")}`,
    );
  });
});

Deno.test("--version prints the program's version from deno.json and Deno's, and exits 0", async () => {
  const dir = await tempDir("version-");
  for (const program of ["node", "agent"] as const) {
    assert.deepEqual(await run(program, ["--version"], dir), {
      code: 0,
      stdout: [`lumi-${program} ${project.version} (Deno ${Deno.version.deno})`],
      stderr: [],
    });
  }
});

Deno.test("on a terminal, leaving after a refused registration exits non-zero (3)", async () => {
  await using node = await AccountNode.start({ listen: "127.0.106.10:0", users: ["laura"] });
  await using person = await PtyProgram.start("agent", [
    "--address",
    "nobody@bb.com",
    "--nick",
    "Nobody",
    "--node",
    node.address,
    "--no-log",
  ], { cwd: node.dir });
  let at = await person.waitFor(
    /Cannot register nobody@bb\.com: the node of bb\.com does not know this user\n/,
  );
  at = await person.waitFor(/Try again\? \[Y\/n\] /, { from: at });
  await person.type(`y${Keys.enter}`);
  at = await person.waitFor(/Try again\? \[Y\/n\] /, { from: at });
  await person.type(`n${Keys.enter}`);
  assert.equal(await person.exited(), 3);
  assert.equal([...person.text.matchAll(/does not know this user/g)].length, 2, "said once each");
});
