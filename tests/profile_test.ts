/** The agent's profile (issue 19, item 5): made at the first start, used by the next one. */

import assert from "#assert";
import { startNode } from "./support/agent_peers.ts";
import { startProgram, tempDir } from "./support/process.ts";

Deno.test("the first start writes the profile; the next start needs no flags but --data", async () => {
  const dir = await tempDir("profile-");
  const started = await startNode(dir, "bb.test", ["laura"], "127.0.28.50:0");
  await using _node = started.process;
  const data = `${dir}/data`;
  const node = `${started.endpoint.ip}:${started.endpoint.port}`;
  {
    await using first = await startProgram("agent", [
      "--data",
      data,
      "--address",
      "laura@bb.test",
      "--nick",
      "Laura",
      "--node",
      node,
      "--max-chats",
      "3",
    ], { cwd: dir });
    await first.waitFor(/^Created your profile .*\/data\/lumi-agent\.ini: /);
    await first.waitFor(/^Registered laura@bb\.test/);
    await first.send("/quit");
    assert.equal((await first.exited()).code, 0);
  }
  const profile = await Deno.readTextFile(`${data}/lumi-agent.ini`);
  assert.match(profile, /^address = laura@bb\.test$/m);
  assert.match(profile, /^node = 127\.0\.28\.50:\d+$/m);
  assert.match(profile, /^max-chats = 3$/m);
  assert.equal((await Deno.stat(`${data}/lumi-agent.ini`)).mode! & 0o077, 0);

  await using again = await startProgram("agent", ["--data", data, "--nick", "Lau"], { cwd: dir });
  await again.waitFor(/^Registered laura@bb\.test with node 127\.0\.28\.50:/);
  assert.ok(!again.lines.some((l) => l.startsWith("Created your profile")));
  await again.send("/quit");
  assert.equal((await again.exited()).code, 0);
  // The packet log is in the data folder, nothing in the current one.
  await Deno.stat(`${data}/logs/laura@bb.test.log`);
  for await (const entry of Deno.readDir(dir)) assert.ok(!entry.name.endsWith(".log"), entry.name);
});

Deno.test("a profile with a setting the agent does not know stops it, naming the file and key", async () => {
  const dir = await tempDir("profile-bad-");
  await Deno.writeTextFile(`${dir}/lumi-agent.ini`, "adress = laura@bb.test\n");
  await using agent = await startProgram("agent", ["--data", dir], { cwd: dir, stdin: false });
  const status = await agent.exited();
  assert.equal(status.code, 64);
  assert.ok(
    agent.errors.some((l) => /^Bad profile .*lumi-agent\.ini: unknown setting "adress"/.test(l)),
    agent.errors.join("\n"),
  );
});
