/**
 * What the agent tells its user when a call does not go through, against
 * real node and agent processes: a crashed or frozen callee agent is not a
 * silent node, a missing domain is not a missing user. Nodes and the DNS
 * server bind in 127.0.105.x.
 */

import assert from "#assert";
import { ScriptedNode, startAgent, startNode } from "./support/agent_peers.ts";
import { startDnsServer } from "./support/dns_server.ts";
import { startProgram, tempDir } from "./support/process.ts";

Deno.test("a crashed or frozen callee: the agent does not answer, then it is offline; never 'the node does not respond'", async (t) => {
  const dir = await tempDir("truth-");
  // Heartbeats every second: a callee that stops sending them is offline after three (3 s).
  const started = await startNode(
    dir,
    "bb.com",
    ["laura", "joan", "pere"],
    undefined,
    undefined,
    [],
    {
      heartbeat: 1,
    },
  );
  await using _node = started.process;
  await using laura = await startAgent(dir, "laura@bb.com", "Laura", started.endpoint);

  for (const [how, name] of [["crashed", "joan"], ["frozen", "pere"]] as const) {
    await t.step(`${how}`, async () => {
      await using callee = await startAgent(dir, `${name}@bb.com`, name, started.endpoint);
      if (how === "crashed") {
        callee.process.kill("SIGKILL");
        await callee.status;
      } else callee.process.kill("SIGSTOP");
      try {
        const from = laura.lines.length;
        const began = performance.now();
        await laura.send(`${name}@bb.com`);
        // Within 6 s: told the agent does not answer (while the node does)…
        await laura.waitFor(
          new RegExp(
            `^No answer yet from the agent of ${name}@bb\\.com \\(the node of bb\\.com answers\\); still trying…$`,
          ),
          { from, timeoutMs: 6_000 },
        );
        // …and the outcome: the agent does not answer, or (once the node counts it) offline.
        const outcome = await laura.waitFor(
          new RegExp(
            `^(Cannot call ${name}@bb\\.com: the agent of ${name}@bb\\.com does not answer \\(the node of bb\\.com does: the agent may have crashed or be frozen\\)|${name}@bb\\.com is offline)$`,
          ),
          { from, timeoutMs: 6_000 },
        );
        assert.ok(performance.now() - began < 6_000, `${performance.now() - began} ms`);
        assert.ok(!laura.lines.slice(from).some((l) => /node does not respond/.test(l)));
        if (!/is offline$/.test(outcome[0])) {
          // The node has now missed the callee's heartbeats: the next call is told offline.
          await laura.send(`${name}@bb.com`);
          await laura.waitFor(new RegExp(`^${name}@bb\\.com is offline$`), {
            from: laura.lines.length - 1,
            timeoutMs: 6_000,
          });
        }
      } finally {
        if (how === "frozen") callee.process.kill("SIGCONT");
      }
    });
  }
});

Deno.test("a node that stops answering is the one blamed", async () => {
  const dir = await tempDir("truth-silent-");
  await using node = new ScriptedNode();
  await using laura = await startAgent(dir, "laura@bb.com", "Laura", node.endpoint);
  await laura.send("joan@bb.com");
  await laura.waitFor(/^Cannot call joan@bb\.com: the node does not respond \(5 tries\)$/);
  assert.ok(!laura.lines.some((l) => /No answer yet|agent of joan/.test(l)));
  // It was probed once, with a look-up of nobody.
  assert.ok(node.texts.includes("PLlaura@bb.com:.lumi-probe@bb.com"));
});

Deno.test({
  name: "a missing domain is told from a missing user of another domain",
  // Binding 127.0.105.x needs the whole 127/8 on loopback, as Linux has.
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await tempDir("truth-dns-");
    const ours = "127.0.105.21";
    const theirs = "127.0.105.20";
    await using dns = await startDnsServer({
      a: { "aa.test": ours, "cc.test": theirs },
      localDomains: ["test", "bbcom"],
      ttl: 5,
    });
    const dnsFlag = ["--dns-server", `${dns.endpoint.ip}:${dns.endpoint.port}`];
    const a = await startNode(dir, "aa.test", ["laura"], `${ours}:3344`, undefined, dnsFlag);
    await using _a = a.process;
    const c = await startNode(dir, "cc.test", ["pere"], `${theirs}:3344`, undefined, dnsFlag);
    await using _c = c.process;
    await using laura = await startAgent(dir, "laura@aa.test", "Laura", a.endpoint, dnsFlag);

    await laura.send("joan@bbcom");
    await laura.waitFor(/^Cannot call joan@bbcom: bbcom: no such domain$/);
    await laura.send("joan@cc.test");
    await laura.waitFor(/^joan@cc\.test does not exist \(the node of cc\.test has no such user\)$/);
    await laura.send("joan@aa.test");
    await laura.waitFor(/^joan@aa\.test does not exist$/);
    await laura.send("joan");
    await laura.waitFor(
      /^Not in a conversation, and "joan" is not an address: add @ and the domain, e\.g\. joan@example\.test$/,
    );
  },
});

Deno.test("a user the node does not know is pointed at --signup when the node allows it", async () => {
  const dir = await tempDir("truth-signup-");
  const config = `${dir}/nodelumi.cfg`;
  await Deno.writeTextFile(
    config,
    "domain = bb.com\nstate = off\n[accounts]\nopen-signup = yes\n[users]\npere\n",
  );
  await using node = await startProgram(
    "node",
    ["--config", config, "--listen", "127.0.0.1:0", "--no-log", "--no-state"],
    { cwd: dir, name: "node bb.com" },
  );
  const [, ip, port] = await node.waitFor(/listening on (\d+\.\d+\.\d+\.\d+):(\d+)/);
  await using nuria = await startProgram(
    "agent",
    ["--address", "nuria@bb.com", "--nick", "Nuria", "--node", `${ip}:${port}`],
    { cwd: dir, name: "agent nuria" },
  );
  const status = await nuria.exited();
  assert.equal(status.code, 3);
  assert.deepEqual(nuria.errors, [
    "Cannot register nuria@bb.com: the node of bb.com does not know this user; " +
    "this node allows sign-up: run again with --signup to create nuria@bb.com",
  ]);
});
