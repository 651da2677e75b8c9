/**
 * The relay across domains: a caller of aa.test reaches a callee of bb.test
 * through the relay of bb.test's node. The caller's node checks the caller's
 * session and passes the request on (`PJ`); the callee's node offers its
 * relay to the callee and answers (`RJ`); the caller's node answers the
 * caller (`RY0`).
 *
 * Two ways: with a real NAT in network namespaces (`support/netns.ts`, needs
 * root, `ip` and `nft`: the callee's @sckMI is a home address the caller
 * cannot reach, so the direct connection really fails), and on loopback with
 * `--relay always` (the caller skips the direct connection), which also checks
 * the refusals and that a stranger cannot speak for a node. The nodes find
 * each other through the static map. Loopback addresses 127.0.39.x.
 */

import assert from "#assert";
import { startAgent } from "./support/agent_peers.ts";
import { ExtAgent } from "./support/ext_agent.ts";
import { stderrLine } from "./support/node_harness.ts";
import { chatThroughNat, NAT_ADDRESSES, NatLab } from "./support/netns.ts";
import { startProgram, tempDir } from "./support/process.ts";
import { startRelayNode } from "./support/relay_node.ts";
import { requireTools } from "./support/system_tools.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const NAT_NAME = "an agent of another domain behind NAT is called through the relay of its node";
const tools = await requireTools({ ip: "iproute2", nft: "nftables" }, { root: true });
tools.report(NAT_NAME);

Deno.test({ name: NAT_NAME, ignore: tools.ignore }, async () => {
  tools.assert();
  await using lab = await NatLab.create();
  const dir = await tempDir("relay-federated-nat-");
  const { public: pub, home } = NAT_ADDRESSES;
  const domains = { "aa.test": `${pub}:3344`, "bb.test": `${pub}:3346` };
  const aa = await startRelayNode(dir, "aa.test", ["alice"], {
    listen: `${pub}:3344`,
    relay: { listen: `${pub}:3347` },
    wrap: lab.exec(lab.public),
    domains,
  });
  await using _aa = aa.process;
  const bb = await startRelayNode(dir, "bb.test", ["bob"], {
    listen: `${pub}:3346`,
    relay: { listen: `${pub}:3345` },
    wrap: lab.exec(lab.public),
    domains,
  });
  await using _bb = bb.process;
  await using bob = await startProgram(
    "agent",
    ["--address", "bob@bb.test", "--nick", "Bob", "--node", `${pub}:3346`, "--no-log"],
    { cwd: dir, name: "agent bob (home)", wrap: lab.exec(lab.home) },
  );
  await bob.waitFor(new RegExp(`^Listening for conversations on .*, advertised as ${home}:\\d+$`));
  await bob.waitFor(/^Registered /);
  await using alice = await startProgram(
    "agent",
    ["--address", "alice@aa.test", "--nick", "Alice", "--node", `${pub}:3344`, "--no-log"],
    { cwd: dir, name: "agent alice (public)", wrap: lab.exec(lab.public) },
  );
  await alice.waitFor(/^Registered /);

  // The session is bb.test's relay's (the callee's node), carrying only ciphertext.
  await chatThroughNat(lab, alice, bob, { alice: "alice@aa.test", bob: "bob@bb.test" }, bb.process);
});

Deno.test("relay across domains on loopback: granted through the callee's node, refusals passed on, strangers not heard", async (t) => {
  const dir = await tempDir("relay-federated-");
  const domains = { "aa.test": "127.0.39.1:3344", "bb.test": "127.0.39.2:3344" };
  const aa = await startRelayNode(dir, "aa.test", ["alice", "al", "ali", "abe"], {
    listen: "127.0.39.1:3344",
    relay: { listen: "127.0.39.1:0" },
    domains,
  });
  await using _aa = aa.process;
  const bb = await startRelayNode(dir, "bb.test", ["bob", "bea", "bud", "bix", "orig"], {
    listen: "127.0.39.2:3344",
    relay: { listen: "127.0.39.2:0", "max-per-user": 1, "max-per-domain": 2 },
    domains,
  });
  await using _bb = bb.process;

  await t.step("real agents: the call goes through bb.test's relay", async () => {
    await using bob = await startAgent(dir, "bob@bb.test", "Bob", bb.endpoint, ["--no-log"]);
    await using alice = await startAgent(dir, "alice@aa.test", "Alice", aa.endpoint, [
      "--no-log",
      "--relay",
      "always",
    ]);
    await alice.send("bob@bb.test");
    await bob.waitFor(/^alice@aa\.test calls through the relay of our node\.\.\.$/);
    await alice.waitFor(/^Conversation with Bob \(bob@bb\.test\): encrypted/);
    await alice.send("hello across");
    await bob.waitFor(/^Alice: hello across$/);
    await alice.send("/exit");
    await bob.waitFor(/^Conversation with Alice ended/);
    await stderrLine(
      { child: bb.process },
      /Relay session "alice@aa\.test" -> "bob@bb\.test" ended/,
    );
  });

  await t.step(
    "refusals of the callee's node reach the caller; bounds per user and per calling domain",
    async () => {
      await using bea = ExtAgent.open("bea@bb.test", bb.endpoint, "127.0.39.4");
      await bea.register();
      await using orig = UdpPeer.open("orig", "127.0.39.5");
      await orig.send("PRorig@bb.test", bb.endpoint);
      assert.equal((await orig.receive()).text, "RR0");
      await using al = ExtAgent.open("al@aa.test", aa.endpoint, "127.0.39.3");
      await al.register();
      const ask = (to: string, key?: Uint8Array) =>
        al.request(al.seal(`PYal@aa.test;to=${to}`, key && { key })).then((r) => r.text);
      // Checked by the caller's node first: the session (a seal made with another key).
      assert.equal(await ask("bob@bb.test", new Uint8Array(32)), "RY1;e=auth");
      // An original agent of bb.test is never sent an offer.
      assert.equal(await ask("orig@bb.test"), "RY1;e=offline");
      await assert.rejects(orig.receive(300));
      // Granted: bea gets the offer from its node, with al as the caller.
      const granted = await ask("bea@bb.test");
      assert.match(granted, /^RY0;r=127\.0\.39\.2:\d+;k=[A-Za-z0-9_-]{22}$/);
      const offer = await bea.receive();
      assert.match(offer.text, /^PYbea@bb\.test;f=al@aa\.test;r=127\.0\.39\.2:\d+;k=/);
      // Asked again (a lost answer): the same keys, the offer again.
      assert.equal(await ask("bea@bb.test"), granted);
      assert.equal((await bea.receive()).text, offer.text);
      // max-per-user = 1 at bb.test: bea waits in one session already, a second caller is refused;
      // and al, a caller of another domain, counts by its address: al is in one session already.
      await using ali = ExtAgent.open("ali@aa.test", aa.endpoint, "127.0.39.7");
      await ali.register();
      const viaAli = (to: string) =>
        ali.request(ali.seal(`PYali@aa.test;to=${to}`)).then((r) => r.text);
      assert.equal(await viaAli("bea@bb.test"), "RY1;e=full");
      await using bud = ExtAgent.open("bud@bb.test", bb.endpoint, "127.0.39.8");
      await bud.register();
      assert.equal(await ask("bud@bb.test"), "RY1;e=full");
      assert.match(await viaAli("bud@bb.test"), /^RY0;/);
      // max-per-domain = 2: two sessions for callers of aa.test wait at bb.test, a third is refused.
      await using bix = ExtAgent.open("bix@bb.test", bb.endpoint, "127.0.39.9");
      await bix.register();
      await using abe = ExtAgent.open("abe@aa.test", aa.endpoint, "127.0.39.10");
      await abe.register();
      const third = await abe.request(abe.seal(`PYabe@aa.test;to=bix@bb.test`));
      assert.equal(third.text, "RY1;e=full");
      await assert.rejects(bix.receive(300), "no offer for a refused request");
      // A domain whose node cannot be found: refused by the caller's node.
      assert.equal(await ask("zed@nowhere.invalid"), "RY1;e=domain");
    },
  );

  await t.step("a stranger cannot speak for aa.test's node, nor answer for bb.test's", async () => {
    await using stranger = UdpPeer.open("stranger", "127.0.39.6");
    await stranger.send(
      `PJal@aa.test;to=bob@bb.test;n=q1w2e3r4t5y6u7i8o9p0aZ;x=${"-".repeat(36)}`,
      bb.endpoint,
    );
    // A made-up grant sent to aa.test's node from elsewhere than bb.test's node.
    await stranger.send(
      "RJ0;to=bob@bb.test;n=q1w2e3r4t5y6u7i8o9p0aZ;r=127.0.39.6:1;k=Hd7Jm2Kp9Qx4Rz1Tv6Wb3Y",
      aa.endpoint,
    );
    await assert.rejects(stranger.receive(500));
    for (const node of [aa, bb]) {
      const from = node.process.lines.length;
      await node.process.send("stats");
      await node.process.waitFor(/^\s+unverified-node\s+1$/, { from });
    }
  });
});
