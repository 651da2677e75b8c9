/**
 * Agents behind NAT, for real: network namespaces made by the test (a
 * "public" one with the node and a caller, a router masquerading with
 * `nft`, a "home" one with the callee). The caller cannot reach the callee's
 * @sckMI (a home address), so it meets the callee at the relay of its node;
 * the chat runs through it, and the relay carries exactly the agents' bytes.
 * Needs root, `ip` (iproute2) and `nft` (nftables): installed when possible,
 * otherwise the test is ignored with one line saying why (a failure under CI).
 */

import assert from "#assert";
import { stderrLine } from "./support/node_harness.ts";
import { NAT_ADDRESSES, NatLab } from "./support/netns.ts";
import { startProgram, tempDir } from "./support/process.ts";
import { startRelayNode } from "./support/relay_node.ts";
import { requireTools } from "./support/system_tools.ts";

const NAME = "an agent behind NAT is called through the relay of its node and chats both ways";
const tools = await requireTools({ ip: "iproute2", nft: "nftables" }, { root: true });
tools.report(NAME);

Deno.test({ name: NAME, ignore: tools.ignore }, async () => {
  tools.assert();
  await using lab = await NatLab.create();
  const dir = await tempDir("relay-nat-");
  const { public: pub, home } = NAT_ADDRESSES;
  const node = await startRelayNode(dir, "nat.test", ["alice", "bob"], {
    listen: `${pub}:3344`,
    relay: { listen: `${pub}:3345` },
    wrap: lab.exec(lab.public),
  });
  await using _node = node.process;
  const nodeFlag = `${node.endpoint.ip}:${node.endpoint.port}`;
  await using bob = await startProgram(
    "agent",
    ["--address", "bob@nat.test", "--nick", "Bob", "--node", nodeFlag, "--no-log"],
    { cwd: dir, name: "agent bob (home)", wrap: lab.exec(lab.home) },
  );
  await bob.waitFor(new RegExp(`^Listening for conversations on .*, advertised as ${home}:\\d+$`));
  await bob.waitFor(/^Registered /);
  await using alice = await startProgram(
    "agent",
    ["--address", "alice@nat.test", "--nick", "Alice", "--node", nodeFlag, "--no-log"],
    { cwd: dir, name: "agent alice (public)", wrap: lab.exec(lab.public) },
  );
  await alice.waitFor(/^Registered /);

  await alice.send("bob@nat.test");
  // The direct connection to the home address fails; the relay is tried.
  await alice.waitFor(/^No direct connection to bob@nat\.test \(.*\); trying the relay/);
  await bob.waitFor(/^alice@nat\.test calls through the relay of our node\.\.\.$/);
  await alice.waitFor(/^Connected to Bob \(bob@nat\.test\)$/);
  // The end-to-end channel runs through the relay: the relay sees only its ciphertext.
  await alice.waitFor(/^Conversation with Bob \(bob@nat\.test\): encrypted/);
  await bob.waitFor(/^Incoming call from Alice \(alice@nat\.test\)$/);
  await alice.send("hello");
  await bob.waitFor(/^Alice: hello$/);
  await bob.send("hi there");
  await alice.waitFor(/^Bob: hi there$/);
  await alice.send("/exit");
  await bob.waitFor(/^Conversation with Alice ended/);

  const line = await stderrLine(
    { child: node.process },
    /Relay session "alice@nat\.test" -> "bob@nat\.test" ended/,
  );
  // The nicknames, then the Noise handshake and the sealed lines: far more than the 16 and 17
  // bytes the clear frames would be (N05Alice + L05hello, N03Bob + L08hi there).
  const counts = line.match(
    /ended \("closed"\): (\d+) bytes from the caller, (\d+) from the callee/,
  );
  assert.ok(counts, line);
  assert.ok(Number(counts?.[1]) > 100 && Number(counts?.[2]) > 100, line);
  // Bob's packets really crossed the NAT.
  assert.ok(await lab.masqueraded() > 0, "nothing was masqueraded");
});
