/**
 * Vouching across domains: two real nodes of two domains with accounts, found
 * by each other through a real DNS server (A records, port 3344), and real
 * agents. At a first contact across domains the agent's node asks the
 * peer's node which key it vouches for (`PV` / `RV`); a man in the middle on
 * the caller's path (`support/e2e_path.ts`) with a key of its own is refused,
 * the real peer is shown vouched for. Addresses 127.0.38.x and 127.0.39.x.
 */

import assert from "#assert";
import { AccountNode, startAgent } from "./support/account_node.ts";
import { advertisedEndpoint } from "./support/agent_peers.ts";
import { startDnsServer } from "./support/dns_server.ts";
import { Interceptor, NodeFront } from "./support/e2e_path.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const AA = "127.0.38.1";
const BB = "127.0.39.1";

Deno.test("vouching across domains: a man in the middle is caught at first contact, the real peer is vouched for", async (t) => {
  await using dns = await startDnsServer({ a: { "aa.test": AA, "bb.test": BB } });
  const settings = [`dns-server = ${dns.endpoint.ip}:${dns.endpoint.port}`];
  await using aa = await AccountNode.start({
    listen: `${AA}:3344`,
    users: ["ana"],
    passwords: { ana: "ana-secret" },
    domain: "aa.test",
    heartbeat: 30,
    settings,
  });
  await using bb = await AccountNode.start({
    listen: `${BB}:3344`,
    users: ["bo", "cy"],
    passwords: { bo: "bo-secret" },
    domain: "bb.test",
    heartbeat: 30,
    settings,
  });
  const bo = await startAgent(bb, "bo@bb.test", { password: "bo-secret" });
  await using _bo = bo;
  await bo.waitFor(/^The node of bb\.test vouches for your identity key/);
  const boAt = await advertisedEndpoint(bo);
  await using front = NodeFront.open(aa.at, "127.0.38.11");
  const ana = await startAgent(aa, "ana@aa.test", {
    password: "ana-secret",
    args: ["--node", `${front.address.ip}:${front.address.port}`],
  });
  await using _ana = ana;
  await ana.waitFor(/^The node of aa\.test vouches for your identity key/);

  await t.step("first contact across domains through a man in the middle: refused", async () => {
    await using mitm = Interceptor.open(
      boAt,
      { caller: "ana@aa.test", callee: "bo@bb.test" },
      "127.0.38.12",
    );
    front.redirect(boAt, mitm.address);
    const from = ana.lines.length;
    await ana.send("bo@bb.test");
    await ana.waitFor(
      /^Cannot call bo@bb\.test: WARNING: the key that answered as bo@bb\.test \(.*\) is not the one its node vouches for/,
      { from },
    );
    assert.deepEqual(mitm.log.completed, []);
    assert.deepEqual(mitm.log.lines, []);
  });

  await t.step(
    "the real Bo: encrypted, first contact vouched for by its node, both ways",
    async () => {
      front.redirect(boAt, boAt);
      const from = ana.lines.length;
      const boFrom = bo.lines.length;
      await ana.send("bo@bb.test");
      await ana.waitFor(
        /^Conversation with bo \(bo@bb\.test\): encrypted \(first contact, key pinned, vouched for by its node; not verified/,
        { from },
      );
      // Bo's node asked Ana's node about Ana's key the same way.
      await bo.waitFor(
        /^Conversation with ana \(ana@aa\.test\): encrypted \(first contact, key pinned, vouched for by its node/,
        { from: boFrom },
      );
      await ana.send("hello bo");
      await bo.waitFor(/^ana: hello bo$/);
      await ana.send("/exit");
      await ana.waitFor(/^Conversation with bo ended/, { from });
    },
  );

  await t.step(
    "an account without a password: nothing vouched, first contact pinned only",
    async () => {
      const cy = await startAgent(bb, "cy@bb.test");
      await using _cy = cy;
      await cy.waitFor(/^Type an address to call someone/);
      const from = ana.lines.length;
      await ana.send("cy@bb.test");
      const shown = await ana.waitFor(
        /^Conversation with cy \(cy@bb\.test\): encrypted \(first contact, key pinned[,;]/,
        { from },
      );
      assert.doesNotMatch(shown[0], /vouched/);
      await ana.send("/exit");
      await ana.waitFor(/^Conversation with cy ended/, { from });
    },
  );

  await t.step(
    "a stranger's answer is not taken: only the domain's node, only with the query's nonce",
    async () => {
      await using stranger = UdpPeer.open("stranger", "127.0.38.13");
      // A made-up answer sent to aa.test's node from elsewhere than bb.test's node.
      await stranger.send(
        `RV0;n=q1w2e3r4t5y6u7i8o9p0aZ;b=dee@bb.test;ik=${"K".repeat(43)}`,
        aa.at,
      );
      // A vouch query from elsewhere than aa.test's node: no answer.
      await stranger.send(
        `PVbo@bb.test;w=ana@aa.test;n=q1w2e3r4t5y6u7i8o9p0aZ;x=${"-".repeat(33)}`,
        bb.at,
      );
      await assert.rejects(stranger.receive(500));
      // Both were dropped by the node verification guard, before being read.
      for (const node of [aa, bb]) {
        const from = node.child.lines.length;
        await node.child.send("stats");
        await node.child.waitFor(/^\s+unverified-node\s+1$/, { from });
      }
      // The answers the node took were those of its queries.
      const from = aa.child.lines.length;
      await aa.child.send("stats");
      await aa.child.waitFor(/^vouch limited\s+\d+$/, { from });
      const table = aa.child.lines.slice(from).join("\n");
      assert.match(table, /^vouch queries\s+[1-9]/m);
      assert.match(table, /^vouch answers\s+[1-9]/m);
    },
  );
});
