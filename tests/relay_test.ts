/**
 * The node's relay with real processes on loopback: two real agents meet at
 * the relay of their node and chat through it, the node carrying exactly
 * the bytes they send; strangers cannot join or hold sockets; an original
 * agent is never sent the relay message.
 */

import assert from "#assert";
import { connectTcp } from "../lib/transport/tcp.ts";
import { startAgent } from "./support/agent_peers.ts";
import { ExtAgent, value } from "./support/ext_agent.ts";
import { stderrLine } from "./support/node_harness.ts";
import { tempDir } from "./support/process.ts";
import { startRelayNode } from "./support/relay_node.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const IP = "127.0.29.1";
const enc = new TextEncoder();
const dec = new TextDecoder();

/** Read until the peer closes (at most `max` bytes, `timeoutMs`): what it sent. */
async function readToEnd(conn: Deno.Conn, timeoutMs: number, max = 256): Promise<string> {
  const chunks: number[] = [];
  const buffer = new Uint8Array(64);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(...buffer.subarray(0, n));
      if (chunks.length > max) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return dec.decode(new Uint8Array(chunks));
}

Deno.test("a call with --relay always goes through the node's relay, which carries exactly the agents' bytes", async () => {
  const dir = await tempDir("relay-");
  const node = await startRelayNode(dir, "relay.test", ["alice", "bob"], {
    listen: `${IP}:0`,
    relay: { listen: `${IP}:0` },
  });
  await using _node = node.process;
  // In clear, so that the bytes can be counted: the relay must add and change nothing.
  await using bob = await startAgent(dir, "bob@relay.test", "Bob", node.endpoint, [
    "--no-log",
    "--no-encryption",
  ]);
  await using alice = await startAgent(dir, "alice@relay.test", "Alice", node.endpoint, [
    "--no-log",
    "--no-encryption",
    "--relay",
    "always",
  ]);
  await alice.send("bob@relay.test");
  await bob.waitFor(/^alice@relay\.test calls through the relay of our node\.\.\.$/);
  await alice.waitFor(/^Connected to Bob \(bob@relay\.test\)$/);
  await bob.waitFor(/^Incoming call from Alice \(alice@relay\.test\)$/);
  await alice.send("hello");
  await bob.waitFor(/^Alice: hello$/);
  await bob.send("hi there");
  await alice.waitFor(/^Bob: hi there$/);
  await alice.send("/exit");
  await bob.waitFor(/^Conversation with Alice ended \(Alice closed the connection\)$/);
  const line = await stderrLine(
    { child: node.process },
    /Relay session "alice@relay\.test" -> "bob@relay\.test" ended/,
  );
  // N05Alice + L05hello from the caller, N03Bob + L08hi there from the callee: nothing added.
  assert.match(line, /ended \("closed"\): 16 bytes from the caller, 17 from the callee/);
});

Deno.test("a stranger's key is refused, a silent connection is cut at the hello timeout, an original agent gets no offer", async () => {
  const dir = await tempDir("relay-strangers-");
  const node = await startRelayNode(dir, "relay.test", ["alice", "orig"], {
    listen: `${IP}:0`,
    relay: { listen: `${IP}:0`, "hello-timeout": 1 },
  });
  await using _node = node.process;

  // A made-up key: "NO unknown-key", and the relay closes.
  const stranger = await connectTcp(node.relay);
  await stranger.write(enc.encode("LUMI-RELAY AAAAAAAAAAAAAAAAAAAAAA\n"));
  assert.equal(await readToEnd(stranger as Deno.Conn, 5_000), "NO unknown-key\n");

  // A connection that says nothing is closed after hello-timeout (1 s), not held.
  const silent = await connectTcp(node.relay);
  const started = performance.now();
  assert.equal(await readToEnd(silent as Deno.Conn, 10_000), "");
  const held = performance.now() - started;
  assert.ok(held >= 900 && held < 5_000, `held ${held} ms`);

  // An original agent (plain PR): a relay to it is refused; it is never sent PY.
  await using orig = UdpPeer.open("orig", IP);
  await orig.send("PRorig@relay.test", node.endpoint);
  assert.equal((await orig.receive()).text, "RR0");
  await using alice = ExtAgent.open("alice@relay.test", node.endpoint, IP);
  await alice.register();
  const refused = await alice.request(alice.seal(`PYalice@relay.test;to=orig@relay.test`));
  assert.equal(refused.text, "RY1;e=offline");
  // Without the session's seal: refused too.
  const forged = await alice.request("PYalice@relay.test;to=orig@relay.test");
  assert.equal(forged.text, "RY1;e=auth");
  await assert.rejects(orig.receive(500));

  // A relay to oneself is no call.
  const self = await alice.request(alice.seal(`PYalice@relay.test;to=alice@relay.test`));
  assert.equal(self.text, "RY1;e=invalid");
  assert.equal(value(self, "k"), undefined);
});
