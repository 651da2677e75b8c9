/** `deno task cluster` says "running" only once its nodes listen, and stops when one cannot. */

import assert from "#assert";
import { tempDir } from "./support/process.ts";
import { startCluster } from "./support/cluster.ts";

Deno.test("the cluster says it runs only after every node listens", async () => {
  const dir = await tempDir("cluster-start-");
  await using cluster = startCluster(dir, "127.0.28.2");
  await cluster.waitFor(/^Cluster of 2 domain\(s\) running/);
  const shown = cluster.lines.slice(0, cluster.lines.findIndex((l) => /running/.test(l)));
  assert.ok(shown.some((l) => /LUMI node aa\.test listening on 127\.0\.28\.2:3344/.test(l)));
  assert.ok(shown.some((l) => /LUMI node bb\.test listening on 127\.0\.28\.3:3344/.test(l)));
  cluster.kill("SIGINT");
  assert.equal((await cluster.exited()).code, 0);
});

Deno.test("the cluster stops, and says which node, when one cannot bind its address", async () => {
  const dir = await tempDir("cluster-bind-");
  // Something else holds bb.test's address.
  const taken = Deno.listenDatagram({ transport: "udp", hostname: "127.0.28.11", port: 3344 });
  await using cluster = startCluster(dir, "127.0.28.10");
  const status = await cluster.exited().finally(() => taken.close());
  assert.equal(status.code, 1);
  assert.ok(!cluster.lines.some((l) => /running/.test(l)), cluster.lines.join("\n"));
  assert.ok(
    cluster.errors.some((l) => /^Node bb\.test failed to start \(exit code \d+\)/.test(l)),
    cluster.errors.join("\n"),
  );
  assert.ok(cluster.errors.some((l) => /^Cluster not started: 1 of 2 node\(s\) failed\.$/.test(l)));
});
