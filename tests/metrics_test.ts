/**
 * Issue 17, metrics: `[metrics] listen` serves the Prometheus text format
 * over real HTTP; a scrape is parsed (by a Prometheus text parser) and its
 * figures follow the traffic sent. Real node process with stdin closed,
 * UDP and HTTP on 127.0.26.x.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "#assert";
import parsePrometheus from "#prom-parse";
import { ScratchDir } from "./support/node_harness.ts";
import { ServiceNode } from "./support/service.ts";
import { UdpPeer } from "./support/udp_peer.ts";

interface Family {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
  }[];
}

async function scrape(url: string): Promise<Map<string, Family>> {
  const response = await fetch(url);
  strictEqual(response.status, 200);
  strictEqual(response.headers.get("content-type")?.startsWith("text/plain"), true);
  const families = parsePrometheus(await response.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of `name` with exactly `labels` (0 when absent). */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}) {
  const family = families.get(name);
  if (!family) throw new Error(`${name} is not exported`);
  const metric = family.metrics.find((m) =>
    JSON.stringify(m.labels ?? {}) === JSON.stringify(labels)
  );
  return Number(metric?.value ?? 0);
}

Deno.test("metrics scraped over HTTP and parsed move with the traffic", async () => {
  await using dir = await ScratchDir.create("metrics", {
    "nodelumi.cfg": "domain = bb.com\nlisten = 127.0.26.20:0\n[limits]\nrate-limit = 50\n" +
      "[metrics]\nlisten = 127.0.26.20:0\n[users]\nlaura\njoan\n",
  });
  await using node = await ServiceNode.start(dir.path, ["--no-state", "--no-log"]);
  const [, url] = await node.line(/^Metrics on (http:\/\/127\.0\.26\.20:\d+\/metrics)$/);
  const before = await scrape(url!);
  strictEqual(value(before, "lumi_users"), 2);
  strictEqual(value(before, "lumi_users_online"), 0);
  strictEqual(value(before, "lumi_datagrams_total", { result: "received" }), 0);
  strictEqual(before.get("lumi_handling_seconds")?.type, "HISTOGRAM");

  await using laura = UdpPeer.open("laura", "127.0.26.21");
  strictEqual(
    (await laura.request("PRlaura@bb.com", node.at)).text,
    "RR0",
  );
  for (let i = 0; i < 40; i++) {
    strictEqual(
      (await laura.request(`PLlaura@bb.com:nobody${i}@bb.com`, node.at)).text,
      `RL2laura@bb.com:nobody${i}@bb.com`,
    );
  }
  await laura.send("garbage", node.at);
  // A flood from another source: banned, its datagrams dropped.
  await using flood = UdpPeer.open("flood", "127.0.26.22");
  for (let i = 0; i < 80; i++) await flood.send("PLx@bb.com:y@bb.com", node.at);
  // The garbage and the flood have no answer to wait for: scrape until they are counted.
  let after = await scrape(url!);
  for (let tries = 0; tries < 100; tries++) {
    const counted = value(after, "lumi_bans_total") >= 1 &&
      value(after, "lumi_datagrams_total", { result: "malformed" }) >= 1;
    if (counted) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
    after = await scrape(url!);
  }
  strictEqual(value(after, "lumi_users_online"), 1);
  strictEqual(value(after, "lumi_datagrams_received_total", { kind: "PR" }), 1);
  ok(value(after, "lumi_datagrams_received_total", { kind: "PL" }) >= 40);
  strictEqual(value(after, "lumi_datagrams_sent_total", { kind: "RR" }), 1);
  // Laura's 40 answers, and the flood's until its ban (50 a window).
  const answers = value(after, "lumi_datagrams_sent_total", { kind: "RL" });
  ok(answers > 40 && answers < 120, `${answers} RL sent`);
  strictEqual(value(after, "lumi_datagrams_total", { result: "malformed" }), 1);
  strictEqual(value(after, "lumi_bans_total"), 1);
  ok(value(after, "lumi_drops_total", { reason: "rate-limited" }) >= 1);
  strictEqual(value(after, "lumi_store_errors_total"), 0);
  // One datagram in 64 is timed: more than 64 were received, so at least one was.
  const handled = after.get("lumi_handling_seconds")!.metrics[0]!;
  const received = value(after, "lumi_datagrams_total", { result: "received" });
  ok(received > 64, `${received} received`);
  ok(
    Number(handled.count) >= 1 && Number(handled.count) <= Math.floor(received / 64),
    `${handled.count} timed of ${received}`,
  );
  deepStrictEqual(
    Object.keys(handled.buckets ?? {}).at(-1),
    "+Inf",
  );
  const missing = await fetch(url!.replace("/metrics", "/other"));
  strictEqual(missing.status, 404);
  await missing.body?.cancel();
  strictEqual((await node.child.stop()).code, 0);
});
