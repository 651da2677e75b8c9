/**
 * Issue 17, checks and identity: `--check` validates the configuration and
 * every file the node would open, prints what it found and exits 0 or 2
 * without starting (nothing bound, nothing created); `--version` names the
 * node's version and Deno's.
 *
 * @module
 */

import { deepStrictEqual, match, ok, strictEqual } from "#assert";
import project from "../deno.json" with { type: "json" };
import { ScratchDir } from "./support/node_harness.ts";
import { runNodeProgram, ServiceNode } from "./support/service.ts";

const GOOD = "domain = bb.com\nlisten = 127.0.26.30:3344\n[log]\nops = ops.log\n" +
  "[metrics]\nlisten = 127.0.26.30:9464\n[users]\nlaura\njoan\n";

Deno.test("--check on a good configuration says what it found, exits 0 and creates nothing", async () => {
  await using dir = await ScratchDir.create("check-good", { "nodelumi.cfg": GOOD });
  const result = await runNodeProgram(dir.path, ["--check"]);
  strictEqual(result.code, 0, result.stdout);
  const lines = result.stdout.split("\n");
  deepStrictEqual(lines.filter((l) => !l.startsWith("ok ")), ["Configuration OK."]);
  for (
    const expected of [
      /^ok +nodelumi\.cfg: INI form, domain bb\.com, 2 users$/,
      /^ok +listen: UDP 127\.0\.26\.30:3344$/,
      /^ok +\[metrics\]: http:\/\/127\.0\.26\.30:9464\/metrics$/,
      /^ok +packet log: nodelumi-bb\.com\.log \(will be created\)$/,
      /^ok +account database: nodelumi-bb\.com\.db \(will be created\)$/,
      /^ok +operational log: ops\.log \(will be created\)$/,
      /^ok +control socket: nodelumi\.ctl$/,
    ]
  ) ok(lines.some((l) => expected.test(l)), `${expected} in:\n${result.stdout}`);
  deepStrictEqual(await dir.files(), ["nodelumi.cfg"], "--check creates no file");
});

Deno.test("--check on broken configurations names each problem and exits 2", async () => {
  const cases: [string, Record<string, string | Uint8Array>, RegExp][] = [
    [
      "a syntax error",
      { "nodelumi.cfg": "domain = bb.com\n[limits]\nban = forever\n" },
      /^PROBLEM +nodelumi\.cfg: line 3: ban must be a whole number/m,
    ],
    [
      "no file",
      {},
      /^PROBLEM +Cannot read nodelumi\.cfg: the file does not exist$/m,
    ],
    ["a database that is not SQLite", {
      "nodelumi.cfg": "bb.com laura\n",
      "nodelumi-bb.com.db": "hello, not a database\n",
    }, /^PROBLEM +account database: nodelumi-bb\.com\.db is not an SQLite database$/m],
    ["a log in a folder that does not exist", {
      "nodelumi.cfg": "domain = bb.com\nlog = gone/x.log\n",
    }, /^PROBLEM +packet log: gone\/x\.log: its folder gone does not exist$/m],
  ];
  for (const [what, files, problem] of cases) {
    await using dir = await ScratchDir.create("check-bad", files);
    const before = await dir.files();
    const result = await runNodeProgram(dir.path, ["--check"]);
    strictEqual(result.code, 2, `${what}:\n${result.stdout}`);
    match(result.stdout, problem, what);
    match(result.stdout, /problems?: the node would not start as it is\.$/, what);
    deepStrictEqual(await dir.files(), before, `${what}: nothing created`);
  }
  // A state "file" that is a folder.
  await using dir = await ScratchDir.create("check-dir", { "nodelumi.cfg": "bb.com laura\n" });
  await Deno.mkdir(dir.file("nodelumi-bb.com.state"));
  const result = await runNodeProgram(dir.path, ["--check"]);
  strictEqual(result.code, 2);
  match(result.stdout, /^PROBLEM +state: nodelumi-bb\.com\.state: /m);
});

Deno.test("--check beside a running node says so and still exits 0", async () => {
  await using dir = await ScratchDir.create("check-live", {
    "nodelumi.cfg": "domain = bb.com\nlisten = 127.0.26.31:0\n[users]\nlaura\n",
  });
  await using node = await ServiceNode.start(dir.path, ["--no-database"]);
  const result = await runNodeProgram(dir.path, ["--check", "--no-database"]);
  strictEqual(result.code, 0, result.stdout);
  match(result.stdout, new RegExp(`a node is running on these files \\(pid ${node.child.pid}\\)`));
  match(result.stdout, /control socket: nodelumi\.ctl \(a node answers on it now\)/);
  strictEqual((await node.child.stop()).code, 0);
});

Deno.test("--version names the node's version and Deno's", async () => {
  await using dir = await ScratchDir.create("version");
  deepStrictEqual(await runNodeProgram(dir.path, ["--version"]), {
    code: 0,
    stdout: `lumi-node ${project.version} (Deno ${Deno.version.deno})`,
    stderr: "",
  });
});
