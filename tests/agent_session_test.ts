/**
 * The agent's session with its node, end to end (issue 14, items 4, 5, 7, 8):
 * one agent per user (a second one is refused, `--replace` takes over and the
 * first one stops), wrong passwords (asked again on a terminal; a wrong
 * `LUMI_PASSWORD` is said to be wrong), Ctrl-C at the password prompt, a node
 * that goes away (killed, or paused) and comes back, and presence lines for
 * every change the node knows of. Real node and agent processes on
 * 127.0.106.x; terminals through a pseudo-terminal.
 *
 * @module
 */

import assert from "#assert";
import { AccountNode, startAgent } from "./support/account_node.ts";
import type { ChildProcess } from "./support/process.ts";
import { Keys, PtyProgram } from "./support/pty.ts";
import { RawAgent } from "./support/raw_agent.ts";

const READY = /^This node keeps your buddies/;

function endpointOf(state: string | undefined): string {
  const match = state?.match(/^online (\S+)$/);
  assert.ok(match, `not online: ${state}`);
  return match![1]!;
}

function count(lines: readonly string[], pattern: RegExp, from = 0): number {
  return lines.slice(from).filter((line) => pattern.test(line)).length;
}

Deno.test("a second agent of a signed-in user is refused; with --replace (or yes at a terminal) it takes over and the first one stops", async () => {
  await using node = await AccountNode.start({
    listen: "127.0.106.1:0",
    users: ["nuria", "pere"],
    passwords: { nuria: "pa55-nuria" },
  });
  await using first = await startAgent(node, "nuria@bb.com", { password: "pa55-nuria" });
  await first.waitFor(READY);
  const firstAt = endpointOf((await node.list()).get("nuria"));

  // The same account again: refused, naming where the other agent is; the first one is untouched.
  await using second = await startAgent(node, "nuria@bb.com", {
    password: "pa55-nuria",
    name: "second nuria",
  });
  assert.equal((await second.exited()).code, 7);
  assert.deepEqual(second.errors, [
    `nuria@bb.com is already signed in from ${firstAt} ` +
    "(--replace signs in here and stops the other agent)",
  ]);
  assert.equal((await node.list()).get("nuria"), `online ${firstAt}`);

  // --replace: the newcomer signs in; the first one is told at its next heartbeat and stops.
  await using third = await startAgent(node, "nuria@bb.com", {
    password: "pa55-nuria",
    args: ["--replace"],
    name: "third nuria",
  });
  await third.waitFor(READY);
  const thirdAt = endpointOf((await node.list()).get("nuria"));
  assert.notEqual(thirdAt, firstAt);
  const [, told] = await first.waitFor(
    /^nuria@bb\.com signed in from another place \((\S+)\): this agent stops$/,
  );
  assert.equal(told, thirdAt);
  assert.equal((await first.exited()).code, 7);
  assert.ok(!first.lines.some((line) => /^Deregistered/.test(line)), "it did not sign out");

  // No flip-flop: the newcomer keeps the session, and never had to register again.
  assert.equal((await node.list()).get("nuria"), `online ${thirdAt}`);
  const from = third.lines.length;
  await third.send("/buddies");
  await third.waitFor(/^No buddies yet/, { from });
  assert.equal(count(first.lines, /again/) + count(third.lines, /again/), 0);

  // At a terminal, the user is asked whether to take over instead.
  await using person = await PtyProgram.start("agent", [
    "--address",
    "nuria@bb.com",
    "--nick",
    "Nuria",
    "--node",
    node.address,
    "--no-log",
  ], { cwd: node.dir, env: { LUMI_PASSWORD: "pa55-nuria" } });
  let shown = await person.waitFor(/nuria@bb\.com is already signed in from \S+ \(--replace/);
  shown = await person.waitFor(/Sign in here and stop the other agent\? \[y\/N\] /, {
    from: shown,
  });
  await person.type(`y${Keys.enter}`);
  await person.waitFor(/Registered nuria@bb\.com with node /, { from: shown });
  await third.waitFor(/^nuria@bb\.com signed in from another place \(\S+\): this agent stops$/);
  assert.equal((await third.exited()).code, 7);
  await person.type(`/quit${Keys.enter}`);
  await person.waitFor(/Deregistered nuria@bb\.com/, { from: shown });
  assert.equal(await person.exited(), 0);

  // A user without a password is protected from a duplicate the same way.
  await using pere = await startAgent(node, "pere@bb.com");
  await pere.waitFor(READY);
  await using pere2 = await startAgent(node, "pere@bb.com", { name: "second pere" });
  assert.equal((await pere2.exited()).code, 7);
  assert.match(pere2.errors[0] ?? "", /^pere@bb\.com is already signed in from another place/);

  await pere.send("/quit");
  assert.equal((await pere.exited()).code, 0);
  await pere.waitFor(/^Deregistered pere@bb\.com$/);
});

Deno.test("a duplicate of a user registered by an original agent is refused, so its leaving cannot take the original offline", async () => {
  await using node = await AccountNode.start({ listen: "127.0.106.6:0", users: ["pere"] });
  // It answers the look-ups the node forwards to it, as a running original agent does.
  await using original = RawAgent.open("pere", { node: node.at });
  assert.equal((await original.request("PRpere@bb.com")).text, "RR0");
  const at = `${original.local.ip}:${original.local.port}`;

  await using duplicate = await startAgent(node, "pere@bb.com");
  assert.equal((await duplicate.exited()).code, 7);
  assert.match(duplicate.errors[0] ?? "", /^pere@bb\.com is already signed in from another place/);
  assert.equal((await node.list()).get("pere"), `online ${at}`);

  // --replace takes it (the original cannot be told); that agent's leaving then is its own.
  await using taking = await startAgent(node, "pere@bb.com", { args: ["--replace"] });
  await taking.waitFor(READY);
  assert.notEqual((await node.list()).get("pere"), `online ${at}`);
  await taking.send("/quit");
  assert.equal((await taking.exited()).code, 0);
  assert.equal((await node.list()).get("pere"), "offline");
});

Deno.test("a wrong LUMI_PASSWORD is named and exits 3; on a terminal a wrong password is asked again", async () => {
  await using node = await AccountNode.start({
    listen: "127.0.106.2:0",
    users: ["nuria"],
    passwords: { nuria: "pa55-nuria" },
  });
  await using wrong = await startAgent(node, "nuria@bb.com", { password: "guess" });
  assert.equal((await wrong.exited()).code, 3);
  assert.deepEqual(wrong.errors, [
    "Cannot register nuria@bb.com: LUMI_PASSWORD holds a wrong password",
  ]);

  await using person = await PtyProgram.start("agent", [
    "--address",
    "nuria@bb.com",
    "--nick",
    "Nuria",
    "--node",
    node.address,
    "--no-log",
  ], { cwd: node.dir });
  let at = await person.waitFor(/Password for nuria@bb\.com: /);
  await person.type(`guess${Keys.enter}`);
  at = await person.waitFor(/Wrong password for nuria@bb\.com; try again\n/, { from: at });
  at = await person.waitFor(/Password for nuria@bb\.com: /, { from: at });
  await person.type(`pa55-nuria${Keys.enter}`);
  at = await person.waitFor(/Registered nuria@bb\.com with node /, { from: at });
  assert.ok(!person.text.includes("guess") && !person.text.includes("pa55"), "passwords hidden");
  assert.ok(!person.text.includes("Try again?"));
  await person.type(`/quit${Keys.enter}`);
  await person.waitFor(/Deregistered nuria@bb\.com/, { from: at });
  assert.equal(await person.exited(), 0);
});

Deno.test("Ctrl-C at the password prompt leaves at once (exit 130)", async () => {
  await using node = await AccountNode.start({
    listen: "127.0.106.3:0",
    users: ["nuria"],
    passwords: { nuria: "pa55-nuria" },
  });
  await using person = await PtyProgram.start("agent", [
    "--address",
    "nuria@bb.com",
    "--nick",
    "Nuria",
    "--node",
    node.address,
    "--no-log",
  ], { cwd: node.dir });
  await person.waitFor(/Password for nuria@bb\.com: /);
  const pressed = Date.now();
  await person.type(Keys.ctrlC);
  assert.equal(await person.exited(), 130);
  assert.ok(Date.now() - pressed < 5_000, "it left at once");
  assert.equal((await node.list()).get("nuria"), "offline");
});

Deno.test("a node killed and started again: the agent says it lost contact at once, shows buddies as unknown, and comes back", async () => {
  await using node = await AccountNode.start({
    listen: "127.0.106.4:0",
    users: ["nuria", "oriol"],
    passwords: { nuria: "pa55-nuria", oriol: "pa55-oriol" },
  });
  await using nuria = await startAgent(node, "nuria@bb.com", { password: "pa55-nuria" });
  await using oriol = await startAgent(node, "oriol@bb.com", { password: "pa55-oriol" });
  await Promise.all([nuria.waitFor(READY), oriol.waitFor(READY)]);
  await nuria.send("/add oriol@bb.com");
  await oriol.send("/add nuria@bb.com");
  await nuria.waitFor(/^Buddy oriol@bb\.com is now online/);

  let from = nuria.lines.length;
  await node.kill("SIGKILL");
  const killed = Date.now();
  await nuria.waitFor(/^Lost contact with the node of bb\.com; retrying/, { from });
  // One heartbeat interval (1 s) and one request's five tries (5 s), with room for a busy machine.
  const silentMs = Date.now() - killed;
  assert.ok(silentMs < 9_000, `told after ${silentMs} ms`);
  await nuria.send("/buddies");
  await nuria.waitFor(/^oriol@bb\.com\s+unknown$/, { from });
  await nuria.waitFor(/^No contact with the node of bb\.com: every buddy shows as unknown/, {
    from,
  });
  assert.equal(count(nuria.lines, /^Lost contact/, from), 1, "said once");

  await node.startAgain();
  await nuria.waitFor(/^Back in contact with the node of bb\.com$/, { from, timeoutMs: 15_000 });
  await nuria.waitFor(/^Registered nuria@bb\.com again \(the node had forgotten the session\)$/, {
    from,
  });
  await oriol.waitFor(/^Registered oriol@bb\.com again/, { from: 0, timeoutMs: 15_000 });
  from = nuria.lines.length;
  await nuria.send("/buddies");
  // Both registered again: the node knows Oriol is online, and Nuria's fresh look shows it.
  await nuria.waitFor(/^oriol@bb\.com\s+online\s+127\.0\.0\.1:\d+$/, { from });

  // A paused node (SIGSTOP) is the same: silence is told, and so is its return.
  from = nuria.lines.length;
  node.child.kill("SIGSTOP");
  try {
    await nuria.waitFor(/^Lost contact with the node of bb\.com; retrying/, { from });
  } finally {
    node.child.kill("SIGCONT");
  }
  await nuria.waitFor(/^Back in contact with the node of bb\.com$/, { from });
  await nuria.send("/quit");
  assert.equal((await nuria.exited()).code, 0);
});

Deno.test("every presence change the node knows of is one line: a buddy who leaves and comes back between two heartbeats, and /buddies", async () => {
  // Heartbeats every 8 s: Nuria's agent, paused while Oriol leaves and comes back, misses none
  // of the three the node allows (24 s), but sees the two changes only at its next one.
  await using node = await AccountNode.start({
    listen: "127.0.106.5:0",
    users: ["nuria", "oriol"],
    passwords: { nuria: "pa55-nuria", oriol: "pa55-oriol" },
    heartbeat: 8,
  });
  await using nuria = await startAgent(node, "nuria@bb.com", { password: "pa55-nuria" });
  await nuria.waitFor(READY);
  const oriolAgent = async () => {
    const agent = await startAgent(node, "oriol@bb.com", { password: "pa55-oriol" });
    await agent.waitFor(READY);
    return agent;
  };
  await using oriol1 = await oriolAgent();
  await oriol1.send("/add nuria@bb.com");
  await oriol1.waitFor(/^Added/);
  await nuria.send("/add oriol@bb.com");
  await nuria.waitFor(/^Buddy oriol@bb\.com is now online/, { timeoutMs: 20_000 });

  // Oriol leaves while Nuria's agent is paused; the first thing it does after is /buddies.
  const paused = async (work: () => Promise<void>) => {
    nuria.kill("SIGSTOP");
    try {
      await work();
    } finally {
      nuria.kill("SIGCONT");
    }
  };
  let from = nuria.lines.length;
  await paused(async () => {
    await oriol1.send("/quit");
    assert.equal((await oriol1.exited()).code, 0);
  });
  await nuria.send("/buddies");
  await nuria.waitFor(/^oriol@bb\.com\s+offline$/, { from });
  await nuria.waitFor(/^Buddy oriol@bb\.com is now offline$/, { from });

  // Oriol comes back: one line.
  await using oriol2 = await oriolAgent();
  await nuria.waitFor(/^Buddy oriol@bb\.com is now online \(127\.0\.0\.1:\d+\)$/, {
    from,
    timeoutMs: 20_000,
  });

  // Oriol leaves and comes back between two of Nuria's heartbeats: both changes, in order.
  from = nuria.lines.length;
  let back: ChildProcess | undefined;
  await paused(async () => {
    await oriol2.send("/quit");
    assert.equal((await oriol2.exited()).code, 0);
    back = await oriolAgent();
  });
  await using _oriol3 = back!;
  await nuria.waitFor(/^Buddy oriol@bb\.com is now online \(127\.0\.0\.1:\d+\)$/, {
    from,
    timeoutMs: 20_000,
  });
  const offline = nuria.lines.findIndex((l, i) => i >= from && /is now offline$/.test(l));
  const online = nuria.lines.findIndex((l, i) => i >= from && /is now online/.test(l));
  assert.ok(offline >= 0 && offline < online, nuria.lines.slice(from).join("\n"));

  // Nothing is told twice, whichever fetch saw it first.
  const before = nuria.lines.length;
  await nuria.send("/buddies");
  await nuria.waitFor(/^1 buddy, 1 online/, { from: before });
  assert.equal(count(nuria.lines, /^Buddy oriol@bb\.com is now offline$/), 2);
  assert.equal(count(nuria.lines, /^Buddy oriol@bb\.com is now online/), 3);
  await nuria.send("/quit");
  assert.equal((await nuria.exited()).code, 0);
});
