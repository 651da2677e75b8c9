/**
 * The node vouches for its password accounts' identity keys (`PI`): a real
 * node with accounts, real agents, and a man in the middle on the caller's
 * path (`support/e2e_path.ts`, addresses 127.0.27.x).
 */

import assert from "#assert";
import { AccountNode, startAgent } from "./support/account_node.ts";
import { advertisedEndpoint } from "./support/agent_peers.ts";
import { Interceptor, NodeFront } from "./support/e2e_path.ts";
import { testDataHome } from "./support/process.ts";

Deno.test("identity keys bound by the node: a man in the middle is caught at first contact", async (t) => {
  await using node = await AccountNode.start({
    listen: "127.0.0.1:0",
    users: ["ana", "bo", "cy"],
    passwords: { ana: "ana-secret", bo: "bo-secret" },
    domain: "keys.test",
    heartbeat: 30,
  });
  const bo = await startAgent(node, "bo@keys.test", { password: "bo-secret" });
  await using _bo = bo;
  await bo.waitFor(/^The node of keys\.test vouches for your identity key/);
  const boAt = await advertisedEndpoint(bo);
  await using front = NodeFront.open(node.at, "127.0.27.11");
  const ana = await startAgent(node, "ana@keys.test", {
    password: "ana-secret",
    args: ["--node", `${front.address.ip}:${front.address.port}`],
  });
  await using _ana = ana;
  await ana.waitFor(/^The node of keys\.test vouches for your identity key/);

  await t.step(
    "first contact through a man in the middle: its key is not the node's, refused",
    async () => {
      await using mitm = Interceptor.open(
        boAt,
        { caller: "ana@keys.test", callee: "bo@keys.test" },
        "127.0.27.12",
      );
      front.redirect(boAt, mitm.address);
      const from = ana.lines.length;
      await ana.send("bo@keys.test");
      await ana.waitFor(
        /^Cannot call bo@keys\.test: WARNING: the key that answered as bo@keys\.test \(.*\) is not the one its node vouches for/,
        { from },
      );
      assert.deepEqual(mitm.log.completed, []);
      assert.deepEqual(mitm.log.lines, []);
    },
  );

  await t.step(
    "the real Bo: first contact, the key vouched for by the node, then pinned",
    async () => {
      front.redirect(boAt, boAt);
      const from = ana.lines.length;
      await ana.send("bo@keys.test");
      await ana.waitFor(
        /^Conversation with bo \(bo@keys\.test\): encrypted \(first contact, key pinned, vouched for by its node; not verified/,
        { from },
      );
      await ana.send("hello bo");
      await bo.waitFor(/^ana: hello bo$/);
      await ana.send("/exit");
      await ana.waitFor(/^Conversation with bo ended/, { from });
    },
  );

  await t.step("a different key for a bound account is refused by the node", async () => {
    await bo.send("/quit");
    await bo.exited();
    await Deno.remove(
      `${testDataHome(node.dir, ["--address", "bo@keys.test"])}/lumi/bo@keys.test.key`,
    );
    const bo2 = await startAgent(node, "bo@keys.test", { password: "bo-secret" });
    await using _bo2 = bo2;
    await bo2.waitFor(/^WARNING: the node keeps another identity key for bo@keys\.test/);
  });

  await t.step("an account without a password gets no binding: nothing is vouched", async () => {
    const cy = await startAgent(node, "cy@keys.test");
    await using _cy = cy;
    await cy.waitFor(/^Type an address to call someone/);
    assert.ok(!cy.lines.some((l) => /vouches for your identity key/.test(l)));
  });
});
