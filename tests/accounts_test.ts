/**
 * Accounts, buddies and presence end to end: real node and agent processes,
 * a real account database, the agent's commands and announcements.
 */

import assert from "#assert";
import { type ChildProcess, startProgram, tempDir } from "./support/process.ts";

interface Node extends AsyncDisposable {
  readonly process: ChildProcess;
  readonly at: string;
}

async function startNode(dir: string, listen: string, extra: string[] = []): Promise<Node> {
  const process = await startProgram("node", ["--listen", listen, "--no-log", ...extra], {
    cwd: dir,
    name: "node bb.com",
  });
  const [, at] = await process.waitFor(/listening on (\S+) /);
  return { process, at: at!, [Symbol.asyncDispose]: () => process[Symbol.asyncDispose]() };
}

function startAgent(
  dir: string,
  node: Node,
  address: string,
  nick: string,
  password: string,
  extra: string[] = [],
): Promise<ChildProcess> {
  return startProgram("agent", [
    "--address",
    address,
    "--nick",
    nick,
    "--node",
    node.at,
    "--no-log",
    ...extra,
  ], {
    cwd: dir,
    name: `agent ${address}`,
    env: { LUMI_PASSWORD: password },
  });
}

const CONFIG = [
  "domain = bb.com",
  "state = off",
  "[limits]",
  "heartbeat = 1",
  "[accounts]",
  "open-signup = yes",
  "[users]",
  "pere",
  "",
].join("\n");

Deno.test("sign up, log in, buddies see each other come and go, and accounts survive kill -9", async () => {
  const dir = await tempDir("accounts-");
  await Deno.writeTextFile(`${dir}/nodelumi.cfg`, CONFIG);
  const listen = "127.0.9.1:3344";
  {
    await using node = await startNode(dir, listen);
    await using nuria = await startAgent(dir, node, "nuria@bb.com", "Nuria", "pa55-nuria", [
      "--signup",
    ]);
    await nuria.waitFor(/^Account nuria@bb\.com created$/);
    await nuria.waitFor(/^This node keeps your buddies/);
    await using oriol = await startAgent(dir, node, "oriol@bb.com", "Oriol", "pa55-oriol", [
      "--signup",
    ]);
    await oriol.waitFor(/^This node keeps your buddies/);

    // Presence is shared only both ways: Oriol is unknown to Nuria until he adds her too.
    await nuria.send("/add oriol@bb.com");
    await nuria.waitFor(/^Added oriol@bb\.com to your buddies$/);
    let from = nuria.lines.length;
    await nuria.send("/buddies");
    await nuria.waitFor(/^oriol@bb\.com\s+unknown$/, { from });
    await oriol.send("/add nuria@bb.com");
    await oriol.waitFor(/^Added nuria@bb\.com to your buddies$/);
    await nuria.waitFor(/^Buddy oriol@bb\.com is now online \(127\.0\.0\.1:\d+\)$/, { from });
    from = nuria.lines.length;
    await nuria.send("/buddies");
    await nuria.waitFor(/^oriol@bb\.com\s+online\s+127\.0\.0\.1:\d+$/, { from });
    await nuria.waitFor(/^1 buddy, 1 online/, { from });
    from = nuria.lines.length;
    await nuria.send("/online");
    const [, list] = await nuria.waitFor(/^Online in bb\.com \(2\): (.*)$/, { from });
    assert.deepEqual(list!.split(", ").sort(), ["nuria", "oriol"]);

    // Oriol's agent dies without a word: the node notices the missing heartbeats, Nuria hears of it.
    from = nuria.lines.length;
    oriol.kill("SIGKILL");
    await nuria.waitFor(/^Buddy oriol@bb\.com is now offline$/, { from, timeoutMs: 8_000 });

    // A wrong password is refused in plain words, naming where it came from.
    await using intruder = await startAgent(dir, node, "nuria@bb.com", "Eve", "guess");
    assert.equal((await intruder.exited()).code, 3);
    assert.ok(
      intruder.errors.some((l) =>
        /Cannot register nuria@bb\.com: LUMI_PASSWORD holds a wrong password/.test(l)
      ),
      intruder.errors.join("\n"),
    );

    // The node dies hard; nothing confirmed may be lost.
    node.process.kill("SIGKILL");
    await node.process.exited();
    await nuria.closeStdin();
  }
  await using node = await startNode(dir, listen);
  await using nuria = await startAgent(dir, node, "nuria@bb.com", "Nuria", "pa55-nuria");
  await nuria.waitFor(/^This node keeps your buddies/);
  const from = nuria.lines.length;
  await nuria.send("/buddies");
  await nuria.waitFor(/^oriol@bb\.com\s+offline$/, { from });
  await nuria.send("/quit");
  assert.equal((await nuria.exited()).code, 0);
  await nuria.waitFor(/^Deregistered nuria@bb\.com$/);
});

Deno.test("an agent without buddy support on an original-protocol node is told so, and chats as before", async () => {
  const dir = await tempDir("accounts-original-");
  await Deno.writeTextFile(`${dir}/nodelumi.cfg`, "bb.com laura joan\n");
  await using node = await startNode(dir, "127.0.9.2:3344", ["--no-database"]);
  await using laura = await startAgent(dir, node, "laura@bb.com", "Laura", "");
  await laura.waitFor(/^Registered laura@bb\.com/);
  await laura.waitFor(/^Type an address/);
  await laura.send("/buddies");
  await laura.waitFor(
    /^Your node speaks only the original protocol: it keeps no buddy lists or accounts\.$/,
  );
  assert.ok(!laura.lines.some((l) => l.startsWith("This node keeps your buddies")));
});
