/**
 * Issue 17, installed like a program: `deno task install --root DIR`
 * installs `lumi-node` and `lumi-agent` with exactly the tasks' permission
 * flags; started from another folder, they keep their files in it (or in
 * `--dir`), and `lumi-node ctl` reaches the node of that folder.
 *
 * @module
 */

import { deepStrictEqual, match, ok, strictEqual } from "#assert";
import project from "../deno.json" with { type: "json" };
import { ScratchDir } from "./support/node_harness.ts";
import { ChildProcess, projectRoot, taskFlags } from "./support/process.ts";
import { UdpPeer } from "./support/udp_peer.ts";
import { runToEnd } from "./support/service.ts";

const run = runToEnd;

Deno.test("the installed lumi-node and lumi-agent run from another folder and keep their files there", async () => {
  await using root = await ScratchDir.create("install");
  const installed = await run("deno", ["task", "install", "--root", root.path], projectRoot);
  strictEqual(installed.code, 0, installed.stderr);
  const bin = `${root.path}/bin`;
  for (const program of ["node", "agent"] as const) {
    const shim = await Deno.readTextFile(`${bin}/lumi-${program}`);
    for (const flag of await taskFlags(program)) {
      ok(shim.includes(flag), `lumi-${program} has ${flag}: ${shim}`);
    }
    ok(!/--allow-all|\s-A\s/.test(shim), "no blanket permission");
  }

  // Another folder, outside the repository's tree of files the node could know.
  await using site = await ScratchDir.create("site");
  await Deno.mkdir(site.file("bb"));
  await Deno.writeTextFile(
    site.file("bb/nodelumi.cfg"),
    "domain = bb.com\nlisten = 127.0.26.40:0\n[users]\nlaura\n",
  );
  const version = await run(`${bin}/lumi-node`, ["--version"], site.path);
  deepStrictEqual(version, {
    code: 0,
    stdout: `lumi-node ${project.version} (Deno ${Deno.version.deno})`,
    stderr: "",
  });
  const agent = await run(`${bin}/lumi-agent`, ["--version"], site.path);
  strictEqual(agent.stdout, `lumi-agent ${project.version} (Deno ${Deno.version.deno})`);

  const process = new Deno.Command(`${bin}/lumi-node`, {
    args: ["--dir", "bb", "--no-state"],
    cwd: site.path,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  await using node = new ChildProcess("installed node", process, false);
  const [, ip, port] = await node.waitFor(/^LUMI node bb\.com listening on ([\d.]+):(\d+) /, {
    timeoutMs: 20_000,
  });
  await using laura = UdpPeer.open("laura", "127.0.26.41");
  strictEqual((await laura.request("PRlaura@bb.com", { ip: ip!, port: Number(port) })).text, "RR0");
  const listed = await run(`${bin}/lumi-node`, ["ctl", "--dir", "bb", "online"], site.path);
  strictEqual(listed.code, 0, listed.stderr);
  match(listed.stdout, /^ {2}laura@bb\.com +online {2}127\.0\.26\.41:\d+$/m);
  const added = await run(`${bin}/lumi-node`, ["ctl", "add", "joan"], site.file("bb"));
  strictEqual(added.stdout, "Added joan@bb.com (saved)");
  strictEqual((await node.stop()).code, 0);
  const files = [...Deno.readDirSync(site.file("bb"))].map((e) => e.name).sort();
  deepStrictEqual(files, ["nodelumi-bb.com.db", "nodelumi-bb.com.log", "nodelumi.cfg"]);
  deepStrictEqual([...Deno.readDirSync(site.path)].map((e) => e.name), ["bb"]);
});

Deno.test("deno task lists every task with a one-line description", async () => {
  const tasks = project.tasks as Record<string, string | { description?: string; command: string }>;
  const listed = await run("deno", ["task"], projectRoot);
  strictEqual(listed.code, 0, listed.stderr);
  const text = `${listed.stdout}\n${listed.stderr}`;
  for (const [name, task] of Object.entries(tasks)) {
    const description = typeof task === "string" ? undefined : task.description;
    ok(description && !description.includes("\n"), `${name} has a one-line description`);
    ok(
      text.includes(`- ${name}\n`) && text.includes(description ?? "\u0000"),
      `deno task shows ${name}`,
    );
  }
});
