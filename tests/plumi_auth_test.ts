/**
 * No secret on the wire in the PLUMI extensions (docs/PROTOCOL.md,
 * "Registration, authentication and sessions"): a real node process; a
 * raw-socket extended agent ({@linkcode ExtAgent}) whose sealed requests
 * are copied, changed and sent again from its own socket and from another;
 * and a real agent behind a recording proxy ({@linkcode CaptureProxy}),
 * whose captured heartbeat and buddy change are replayed from the address
 * the node knows it by and from elsewhere. Every copy is refused with
 * `e=auth`, changes nothing, and the agent keeps its session.
 *
 * Addresses: 127.0.32.x.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import { AccountNode } from "./support/account_node.ts";
import { CaptureProxy } from "./support/capture_proxy.ts";
import { newSessionKeyPair } from "../lib/plumi/extensions/mod.ts";
import { challengeOf, ExtAgent, value } from "./support/ext_agent.ts";
import { type ChildProcess, startProgram } from "./support/process.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const USERS = ["laura", "joan", "pere"];
const PASSWORDS = { laura: "pa55-laura" };

function startNode(): Promise<AccountNode> {
  return AccountNode.start({
    listen: "127.0.32.1:0",
    users: USERS,
    passwords: PASSWORDS,
    heartbeat: 30,
  });
}

Deno.test("a replayed heartbeat is refused, from the same source and another, and the agent keeps its session", async () => {
  await using node = await startNode();
  await using laura = ExtAgent.open("laura@bb.com", node.at, "127.0.32.2");
  await using eve = UdpPeer.open("eve", "127.0.32.3");
  const granted = await laura.register(PASSWORDS.laura);
  assertEquals(granted.head, "RR0", granted.text);
  assert(!granted.params.some((p) => p.startsWith("t=")), `a token in ${granted.text}`);

  const beat = laura.seal("PKlaura@bb.com");
  assertEquals((await laura.request(beat)).head, "RK0");
  // The very datagram again, from the agent's own socket, and from another machine's.
  assertEquals((await laura.request(beat)).text, "RK1;e=auth");
  assertEquals((await eve.request(beat, node.at)).text, "RK1;e=auth");
  // Changed: busy added, or a higher counter under the old MAC.
  const busy = beat.replace("PKlaura@bb.com;", "PKlaura@bb.com;st=busy;");
  assertEquals((await eve.request(busy, node.at)).text, "RK1;e=auth");
  const later = beat.replace(/;q=\d+;/, ";q=999;");
  assertEquals((await laura.request(later)).text, "RK1;e=auth");
  // None moved the session: it is where the agent is, and its next heartbeat is good.
  assertEquals((await node.list()).get("laura"), `online ${laura.at}`);
  assertEquals((await laura.heartbeat()).head, "RK0");
  assertEquals((await node.list()).get("laura"), `online ${laura.at}`);
});

Deno.test("a replayed or changed buddy change is refused and changes nothing", async () => {
  await using node = await startNode();
  await using laura = ExtAgent.open("laura@bb.com", node.at, "127.0.32.4");
  await using eve = UdpPeer.open("eve", "127.0.32.5");
  assertEquals((await laura.register(PASSWORDS.laura)).head, "RR0");

  const add = laura.seal("PBlaura@bb.com;op=add;b=joan@bb.com");
  assertEquals((await laura.request(add)).text, "RB0");
  const del = laura.seal("PBlaura@bb.com;op=del;b=joan@bb.com");
  assertEquals((await laura.request(del)).text, "RB0");
  // The add again, from here and from elsewhere; the add changed to another buddy.
  assertEquals((await laura.request(add)).text, "RB1;e=auth");
  assertEquals((await eve.request(add, node.at)).text, "RB1;e=auth");
  const pere = add.replace("b=joan@bb.com", "b=pere@bb.com");
  assertEquals((await laura.request(pere)).text, "RB1;e=auth");
  assertEquals((await laura.status()).entries, []);
  // The session goes on: a new add is done.
  assertEquals((await laura.buddy("add", "pere@bb.com")).text, "RB0");
  assertEquals((await laura.status()).entries.map((e) => e.buddy), ["pere@bb.com"]);
});

Deno.test("requests that arrive out of order within the window are served once each", async () => {
  await using node = await startNode();
  await using joan = ExtAgent.open("joan@bb.com", node.at, "127.0.32.6");
  assertEquals((await joan.register()).head, "RR0");
  const first = joan.seal("PKjoan@bb.com");
  const second = joan.seal("PKjoan@bb.com;st=busy");
  assertEquals((await joan.request(second)).head, "RK0");
  assertEquals((await joan.request(first)).head, "RK0");
  assertEquals((await joan.request(first)).text, "RK1;e=auth");
  // 31 below the highest counter seen, never used: served; 32 or more below: refused.
  const top = joan.counter + 40;
  assertEquals((await joan.heartbeat({ counter: top })).head, "RK0");
  assertEquals((await joan.heartbeat({ counter: top - 31 })).head, "RK0");
  assertEquals((await joan.heartbeat({ counter: top - 32 })).text, "RK1;e=auth");
});

Deno.test("a sealed deregistration copied after a new log-in is refused", async () => {
  await using node = await startNode();
  await using pere = ExtAgent.open("pere@bb.com", node.at, "127.0.32.7");
  assertEquals((await pere.register()).head, "RR0");
  const leave = pere.seal("PDpere@bb.com;v=2");
  assertEquals((await pere.request(leave)).text, "RD0;v=2");
  assertEquals((await pere.register()).head, "RR0");
  // The old PD, from the same socket: not this session's seal.
  assertEquals((await pere.request(leave)).text, "RD1;v=2;e=auth");
  assertEquals((await node.list()).get("pere"), `online ${pere.at}`);
});

Deno.test("a session key changed on the path at log-in fails the password proof", async () => {
  await using node = await startNode();
  await using laura = ExtAgent.open("laura@bb.com", node.at, "127.0.32.11");
  // The first PR reaches the node with another key than the agent's (a man in the middle's).
  const challenge = challengeOf(await laura.hello());
  laura.pair = newSessionKeyPair();
  // The agent's proof names its own key: it does not prove the key the node was given.
  const { reply } = await laura.prove(PASSWORDS.laura, challenge);
  assertEquals([reply.head, value(reply, "e")], ["RR1", "auth"], reply.text);
  assertEquals((await node.list()).get("laura"), "offline");
});

Deno.test("a real agent's heartbeat and buddy change, captured on the path and replayed, are refused", async () => {
  await using node = await AccountNode.start({
    listen: "127.0.32.8:0",
    users: USERS,
    passwords: PASSWORDS,
    heartbeat: 1,
  });
  await using proxy = CaptureProxy.open(node.at, "127.0.32.9");
  await using agent = await startAgentVia(node, proxy);
  await agent.waitFor(/laura@bb\.com/);
  const up = (prefix: string, from = 0) =>
    proxy.waitFor((c) => c.direction === "up" && c.text.startsWith(prefix), from, 10_000);
  const beat = await up("PKlaura@bb.com");
  await agent.send("/add joan@bb.com");
  const add = await up("PBlaura@bb.com");
  await proxy.waitFor((c) => c.direction === "down" && c.text === "RB0", 0, 10_000);

  // No token, and no MAC twice: nothing on the wire logs in or proves anything again.
  const macs = proxy.captured.filter((c) => c.direction === "up").map((c) =>
    c.text.split(";").find((p) => p.startsWith("m="))
  ).filter((m) => m !== undefined);
  assert(macs.length >= 2, `sealed requests: ${macs.length}`);
  assertEquals(new Set(macs).size, macs.length);
  assert(!proxy.captured.some((c) => c.text.split(";").some((p) => p.startsWith("t="))));

  // Replayed from the address the node knows the agent by, and from elsewhere.
  assertEquals(await proxy.inject(beat.agent, beat.text), "RK1;e=auth");
  assertEquals(await proxy.inject(beat.agent, add.text), "RB1;e=auth");
  await using eve = UdpPeer.open("eve", "127.0.32.10");
  assertEquals((await eve.request(beat.text, node.at)).text, "RK1;e=auth");
  assertEquals((await eve.request(add.text, node.at)).text, "RB1;e=auth");

  // The agent keeps its session: its next heartbeats are answered RK0, where it was.
  const from = proxy.captured.length;
  await proxy.waitFor((c) => c.direction === "up" && c.text.startsWith("PK"), from, 10_000);
  await proxy.waitFor((c) => c.direction === "down" && c.text.startsWith("RK0"), from, 10_000);
  const seen = proxy.upstreamOf(beat.agent)!;
  assertEquals((await node.list()).get("laura"), `online ${seen.ip}:${seen.port}`);
});

/** A real agent of laura in `node`'s folder whose node is `proxy` (in front of `node`). */
function startAgentVia(node: AccountNode, proxy: CaptureProxy): Promise<ChildProcess> {
  const { ip, port } = proxy.address;
  return startProgram("agent", [
    "--address",
    "laura@bb.com",
    "--nick",
    "laura",
    "--node",
    `${ip}:${port}`,
    "--no-log",
  ], { cwd: node.dir, name: "agent laura", env: { LUMI_PASSWORD: PASSWORDS.laura } });
}
