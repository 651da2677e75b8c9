/** `deno task cluster`: starts N nodes that know each other, and stops them all on Ctrl-C. */

import { deepStrictEqual as assertEquals } from "#assert";
import { tempDir } from "./support/process.ts";
import { startCluster } from "./support/cluster.ts";
import { UdpPeer } from "./support/udp_peer.ts";

Deno.test("the cluster script starts federated nodes and stops them all on SIGINT", async () => {
  const dir = await tempDir("cluster-");
  await using cluster = startCluster(dir, "127.0.6.2");
  await cluster.waitFor(/LUMI node aa\.test listening on 127\.0\.6\.2:3344/);
  await cluster.waitFor(/LUMI node bb\.test listening on 127\.0\.6\.3:3344/);
  await cluster.waitFor(
    /deno task agent --address laura@aa\.test --nick laura --node 127\.0\.6\.2:3344/,
  );

  await using laura = UdpPeer.open("laura");
  await using joan = UdpPeer.open("joan");
  const aa = { ip: "127.0.6.2", port: 3344 };
  const bb = { ip: "127.0.6.3", port: 3344 };
  assertEquals((await laura.request("PRlaura@aa.test", aa)).text, "RR0");
  assertEquals((await joan.request("PRjoan@bb.test", bb)).text, "RR0");
  await laura.send("PLlaura@aa.test:joan@bb.test", aa);
  assertEquals((await joan.receive()).text, "PLlaura@aa.test:joan@bb.test");
  await joan.send("RL0laura@aa.test:joan@bb.test:127.0.0.1:4000", bb);
  assertEquals((await laura.receive()).text, "RL0laura@aa.test:joan@bb.test:127.0.0.1:4000");

  cluster.kill("SIGINT");
  const status = await cluster.exited();
  assertEquals(status.code, 0);
  await cluster.waitFor(/All nodes stopped\./);
});
