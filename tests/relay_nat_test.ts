/**
 * Agents behind NAT, for real: network namespaces made by the test (a
 * "public" one with the node and a caller, a router masquerading with
 * `nft`, a "home" one with the callee). The caller cannot reach the callee's
 * @sckMI (a home address), so it meets the callee at the relay of its node;
 * the chat runs through it, and the relay carries exactly the agents' bytes.
 * Needs root, `ip` (iproute2) and `nft` (nftables): installed when possible,
 * otherwise the test is ignored with one line saying why (a failure under CI).
 */

import { chatThroughNat, NAT_ADDRESSES, NatLab } from "./support/netns.ts";
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

  // The direct connection to the home address fails; the relay is tried, and the end-to-end
  // channel runs through it: the relay sees only its ciphertext.
  await chatThroughNat(
    lab,
    alice,
    bob,
    { alice: "alice@nat.test", bob: "bob@nat.test" },
    node.process,
  );
});
