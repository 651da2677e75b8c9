/**
 * Finding another domain's node as the system resolver does: the hosts file
 * first, then DNS (SRV, then A), against the real DNS test server process
 * (`support/dns_server.ts`) and a DNS server that never answers (a socket
 * that only listens). Domains compare in any case, with or without the
 * trailing dot. The node process tests go through `main_node.ts` with the
 * `node` task's flags, which let it read /etc/hosts.
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import { createLocator } from "../lib/locate.ts";
import type { Endpoint } from "../lib/plumi/address.ts";
import { systemDns } from "../lib/transport/dns.ts";
import { startDnsServer } from "./support/dns_server.ts";
import { startProgram, tempDir } from "./support/process.ts";
import { type Received, UdpPeer } from "./support/udp_peer.ts";

const ZONE = {
  a: {
    "hosted.test": "127.0.104.9",
    "dnsonly.test": "127.0.104.10",
    "node.srv.test": "127.0.104.12",
  },
  srv: [{
    name: "_plumi._udp.srv.test",
    target: "node.srv.test",
    port: 4000,
    priority: 0,
    weight: 0,
  }],
};

const HOSTS = [
  "# a hosts file as an administrator writes one",
  "127.0.0.1\tlocalhost",
  "127.0.104.7   Hosted.Test.  hosted-alias   # the lab's node",
  "::1 hosted.test",
  "127.0.104.8 NODE.srv.test",
  "# 127.0.104.99 dnsonly.test",
].join("\n");

async function hostsFile(): Promise<string> {
  const path = `${await tempDir("resolver-")}/hosts`;
  await Deno.writeTextFile(path, HOSTS + "\n");
  return path;
}

/** The question of a DNS query datagram: `<type> <name>`, e.g. `SRV _plumi._udp.x.test`. */
function question(query: Received): string {
  const bytes = query.bytes;
  const labels: string[] = [];
  let at = 12;
  while (bytes[at]! > 0) {
    labels.push(new TextDecoder().decode(bytes.subarray(at + 1, at + 1 + bytes[at]!)));
    at += 1 + bytes[at]!;
  }
  const type = (bytes[at + 1]! << 8) | bytes[at + 2]!;
  return `${{ 1: "A", 33: "SRV" }[type] ?? type} ${labels.join(".")}`;
}

/** Every query a silent DNS server has received so far. */
async function queriesOf(silent: UdpPeer): Promise<string[]> {
  const asked: string[] = [];
  while (silent.pending.length > 0) asked.push(question(await silent.receive()));
  return asked;
}

Deno.test("a hosts-file entry wins over DNS, for domains and SRV targets, in any case and with or without the trailing dot", async () => {
  await using dns = await startDnsServer(ZONE);
  const locator = createLocator({
    dns: systemDns({ server: dns.endpoint, hostsPath: await hostsFile() }),
  });
  const node = (ip: string, port = 3344): Endpoint[] => [{ ip, port }];

  assertEquals(await locator.locate("hosted.test"), node("127.0.104.7"));
  assertEquals(await locator.locate("HOSTED.test."), node("127.0.104.7"));
  assertEquals(await locator.locate("Hosted-Alias"), node("127.0.104.7"));
  assert(!dns.log.some((q) => q.includes("hosted")), `DNS was asked: ${dns.log}`);
  // An SRV record's target is looked up in the hosts file too, before its A record.
  assertEquals(await locator.locate("Srv.Test."), node("127.0.104.8", 4000));
  assertEquals(dns.log.filter((q) => q.includes("srv.test")), ["query[SRV] _plumi._udp.srv.test"]);
  // Not in the hosts file (a comment does not count): DNS, once for every spelling.
  assertEquals(await locator.locate("DnsOnly.Test."), node("127.0.104.10"));
  assertEquals(await locator.locate("dnsonly.test"), node("127.0.104.10"));
  assertEquals(dns.log.filter((q) => q.includes("dnsonly")), [
    "query[SRV] _plumi._udp.dnsonly.test",
    "query[A] dnsonly.test",
  ]);
});

Deno.test("a domain of the hosts file is found at once while the DNS server is dead, and DNS is never asked", async () => {
  await using silent = UdpPeer.open("dead DNS server");
  const locator = createLocator({
    dns: systemDns({ server: silent.local, hostsPath: await hostsFile() }),
  });
  const started = performance.now();
  assertEquals(await locator.locate("hosted.test."), [{ ip: "127.0.104.7", port: 3344 }]);
  assert(performance.now() - started < 300, `took ${performance.now() - started} ms`);
  assertEquals(silent.pending, []);
});

/** A node of `bb.test` (user laura) asking `dns` for other domains, and laura's original agent. */
async function nodeWithDns(dns: Endpoint) {
  const dir = await tempDir("resolver-node-");
  const config = ["domain = bb.test", `dns-server = ${dns.ip}:${dns.port}`, "[users]", "laura"];
  await Deno.writeTextFile(`${dir}/nodelumi.cfg`, config.join("\n") + "\n");
  const child = await startProgram("node", ["--listen", "127.0.0.1:0", "--no-state"], {
    cwd: dir,
    name: "node bb.test",
  });
  const match = await child.waitFor(/listening on (\d+\.\d+\.\d+\.\d+):(\d+)/).catch(async (e) => {
    await child[Symbol.asyncDispose]();
    throw e;
  });
  const at = { ip: match[1]!, port: Number(match[2]) };
  const laura = UdpPeer.open("laura");
  assertEquals((await laura.request("PRlaura@bb.test", at)).text, "RR0");
  return {
    at,
    laura,
    async [Symbol.asyncDispose]() {
      await laura[Symbol.asyncDispose]();
      await child[Symbol.asyncDispose]();
    },
  };
}

/** Look up `address` from laura; the answer and how long it took, in ms. */
async function lookUp(node: { at: Endpoint; laura: UdpPeer }, address: string) {
  const started = performance.now();
  const answer = await node.laura.request(`PLlaura@bb.test:${address}`, node.at, 5_000);
  return { text: answer.text, ms: performance.now() - started };
}

Deno.test("a domain that does not exist is answered RL2 as soon as DNS says so, once per domain in any spelling", async () => {
  await using dns = await startDnsServer(ZONE);
  await using node = await nodeWithDns(dns.endpoint);
  const first = await lookUp(node, "x@NoWhere.Test.");
  assertEquals(first.text, "RL2laura@bb.test:x@NoWhere.Test.");
  assert(first.ms < 500, `RL2 after ${first.ms.toFixed(0)} ms`);
  const again = await lookUp(node, "y@nowhere.test");
  assertEquals(again.text, "RL2laura@bb.test:y@nowhere.test");
  assertEquals(dns.log.filter((q) => q.includes("nowhere")), [
    "query[SRV] _plumi._udp.nowhere.test",
    "query[A] nowhere.test",
  ]);
});

Deno.test("a dead DNS server costs one timeout, not two: the SRV query is tried twice, the A record never", async () => {
  await using silent = UdpPeer.open("dead DNS server");
  await using node = await nodeWithDns(silent.local);
  const { text, ms } = await lookUp(node, "x@Far.Test.");
  assertEquals(text, "RL2laura@bb.test:x@Far.Test.");
  // One query of two attempts at 700 ms each; the A fallback would add another 1.4 s.
  assert(ms > 1_200 && ms < 2_300, `RL2 after ${ms.toFixed(0)} ms`);
  assertEquals(await queriesOf(silent), ["SRV _plumi._udp.far.test", "SRV _plumi._udp.far.test"]);
  // The failure is remembered for a few seconds: the next look-up does not wait again.
  const again = await lookUp(node, "y@far.test");
  assertEquals(again.text, "RL2laura@bb.test:y@far.test");
  assert(again.ms < 300, `second RL2 after ${again.ms.toFixed(0)} ms`);
  assertEquals(silent.pending, []);
});
