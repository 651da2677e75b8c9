/**
 * Hardening, part 3: floods. A source that floods the node is banned for a
 * while — logged once per ban, never once per datagram — and ignored until
 * the ban ends, while another client's look-ups keep being answered within
 * their retry budget. And a stranger who floods a user's address with
 * requests for password challenges cannot spoil that user's login.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "#assert";
import { deriveClientKey } from "../lib/auth.ts";
import { TestAgent } from "../lib/node/test_agent.ts";
import { challengeOf, padded, parseReply } from "./support/ext_agent.ts";
import { NodeProcess, ScratchDir } from "./support/node_harness.ts";
import { RawAgent } from "./support/raw_agent.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const LIMIT = 200;
const BAN_SECONDS = 2;

/** Send `packet` from `peer` to `to`, `perTick` datagrams every 10 ms, until `stop` aborts. */
async function flood(
  peer: UdpPeer,
  to: { ip: string; port: number },
  packet: string,
  perTick: number,
  stop: AbortSignal,
): Promise<number> {
  let sent = 0;
  while (!stop.aborted) {
    const tick = performance.now();
    await Promise.all(Array.from({ length: perTick }, () => peer.send(packet, to)));
    sent += perTick;
    const left = 10 - (performance.now() - tick);
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  }
  return sent;
}

Deno.test("a flooding source is banned, logged once per ban and ignored until the ban ends; another client is still served", async () => {
  await using dir = await ScratchDir.create("flood", {
    "nodelumi.cfg": [
      "domain = bb.com",
      "[limits]",
      `rate-limit = ${LIMIT}`,
      "rate-window = 1000",
      `ban = ${BAN_SECONDS}`,
      "[users]",
      "laura joan",
      "",
    ].join("\n"),
  });
  await using node = await NodeProcess.start(dir.path, ["--verbose", "--no-log"]);
  await using flooder = UdpPeer.open("flooder", "127.0.0.9");
  await using client = RawAgent.open("client", { node: node.at, ip: "127.0.0.10" });

  // Ten thousand datagrams a second from 127.0.0.9 for 3.5 s: banned at once, and again
  // when the first ban ends, as the flood goes on.
  const stop = new AbortController();
  const flooding = flood(flooder, node.at, "PRnobody@bb.com", 100, stop.signal);
  const started = performance.now();
  strictEqual((await client.request("PRjoan@bb.com")).text, "RR0");
  let lookups = 0;
  // The client asks at a human pace (well under the limit): 20 look-ups a second.
  while (performance.now() - started < 3_500) {
    const tick = performance.now();
    strictEqual(
      (await client.request("PLjoan@bb.com:laura@bb.com")).text,
      "RL3joan@bb.com:laura@bb.com",
    );
    strictEqual((await client.request("PLjoan@bb.com:x@bb.com")).text, "RL2joan@bb.com:x@bb.com");
    lookups += 2;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, 100 - (performance.now() - tick)))
    );
  }
  stop.abort();
  const flooded = await flooding;
  // Every look-up was answered at the first try, flood or not.
  deepStrictEqual(new Set(client.attempts), new Set([1]), `tries: ${client.attempts}`);

  // Until the ban ends, the flooder's requests get nothing; then it is served again. Ask
  // every 100 ms with a request the flood did not use, so answers to the flood do not count.
  const asked = performance.now();
  const answered = await (async () => {
    for (;;) {
      await flooder.send("PDnobody@bb.com", node.at);
      const deadline = performance.now() + 100;
      while (performance.now() < deadline) {
        const got = await flooder.receive(deadline - performance.now()).catch(() => null);
        if (got?.text === "RD1") return performance.now();
      }
      ok(performance.now() - asked < (BAN_SECONDS + 1) * 1000, "never served again");
    }
  })();
  console.log(
    `flood of ${flooded} datagrams in 3.5 s; ${lookups} look-ups served meanwhile; ` +
      `the flooder served again ${(answered - asked).toFixed(0)} ms after it stopped`,
  );

  // A fresh ban, timed: 260 datagrams at once. With the request just answered, the first
  // 199 are: the 201st of the window starts the ban, and nothing is answered — for the
  // whole ban — then answers again.
  const burstStart = performance.now();
  await Promise.all(Array.from({ length: 260 }, () => flooder.send("PRnobody@bb.com", node.at)));
  const burstEnd = performance.now();
  let answersToBurst = 0;
  let servedAgain = 0;
  for (;;) {
    await flooder.send("PDnobody@bb.com", node.at);
    const deadline = performance.now() + 100;
    while (performance.now() < deadline && servedAgain === 0) {
      const got = await flooder.receive(deadline - performance.now()).catch(() => null);
      if (got?.text === "RR1") answersToBurst++;
      if (got?.text === "RD1") servedAgain = performance.now();
    }
    if (servedAgain > 0) break;
    ok(performance.now() - burstEnd < (BAN_SECONDS + 1) * 1000, "never served after the burst");
  }
  strictEqual(answersToBurst, LIMIT - 1, "the burst is answered up to the limit");
  ok(
    servedAgain - burstStart >= BAN_SECONDS * 1000 - 5,
    `served again ${
      (servedAgain - burstStart).toFixed(0)
    } ms after the burst: before the ban ended`,
  );
  ok(
    servedAgain - burstEnd <= BAN_SECONDS * 1000 + 300,
    `served again ${(servedAgain - burstEnd).toFixed(0)} ms after the burst: long after the ban`,
  );

  // One warning per ban, and nothing else about the flooder, though --verbose reports every
  // dropped datagram: banned ones are counted, not logged.
  const stats = await node.stats();
  ok(stats.bans >= 3, `bans: ${stats.bans}`);
  const aboutFlooder = node.child.errors.filter((line) => line.includes("127.0.0.9"));
  const bans = aboutFlooder.filter((line) => /Banned/.test(line));
  strictEqual(bans.length, stats.bans, aboutFlooder.join("\n"));
  strictEqual(aboutFlooder.length, bans.length, "only ban warnings about the flooder");
  ok(!node.child.errors.some((line) => line.includes("127.0.0.10")), "the client never banned");
  ok((stats.dropped["rate-limited"] ?? 0) > flooded / 2, "the flood was dropped");
});

Deno.test("a stranger asking for a user's challenges does not spoil that user's login", async () => {
  await using dir = await ScratchDir.create("challenge-flood", {
    "nodelumi.cfg": "domain = bb.com\n[users]\nlaura\n",
  });
  await using node = await NodeProcess.start(dir.path, ["--no-log"]);
  await node.command("passwd laura s3cret", /^Password set for laura@bb\.com \(saved\)$/);
  await using laura = UdpPeer.open("laura's agent");
  await using stranger = UdpPeer.open("stranger", "127.0.0.11");

  const agent = new TestAgent("laura@bb.com");
  const challenge = challengeOf(
    parseReply((await laura.request(padded(agent.hello()), node.at)).text),
  );
  // Between the challenge and the proof, a stranger asks for fifty challenges of its own.
  const theirs = new TestAgent("laura@bb.com").hello();
  for (let i = 0; i < 50; i++) await stranger.send(padded(theirs), node.at);
  for (let i = 0; i < 50; i++) strictEqual(parseReply((await stranger.receive()).text).head, "RR1");
  // Nor does a stranger's proof, replayed from another address, count for laura's challenge.
  const key = await deriveClientKey("s3cret", challenge.salt, challenge.iterations);
  const login = padded(await agent.proofWith(key, challenge.nonce));
  strictEqual(parseReply((await stranger.request(login, node.at)).text).head, "RR1");
  const granted = parseReply((await laura.request(login, node.at)).text);
  strictEqual(granted.head, "RR0", granted.text);
  strictEqual(
    (await node.list()).users.get("laura"),
    `online ${laura.local.ip}:${laura.local.port}`,
  );
});
