/**
 * `runNode` in-process on a manual clock, through the one socket seam (an
 * in-memory socket): the node's timers (heartbeat sweeps, answer windows,
 * state saves) run only when the test moves the clock, so nothing here
 * sleeps. Real files (configuration, account database, state) in a scratch
 * directory.
 */

import { deepStrictEqual, ok, strictEqual } from "#assert";
import { ManualClock } from "../lib/clock.ts";
import type { Endpoint } from "../lib/plumi/address.ts";
import { MemorySocket } from "../lib/node/memory_socket.ts";
import { runNode, type RunNodeOptions } from "../lib/node/run.ts";
import { TestAgent } from "../lib/node/test_agent.ts";
import type { DnsClient } from "../lib/transport/dns.ts";

/** Addresses of this file's range; nothing is bound (the socket is in memory). */
const NODE: Endpoint = { ip: "127.0.22.1", port: 3344 };
const LAURA: Endpoint = { ip: "127.0.22.10", port: 4001 };
const JOAN: Endpoint = { ip: "127.0.22.11", port: 4002 };
const STRANGER: Endpoint = { ip: "127.0.22.12", port: 4003 };
const at = (e: Endpoint) => `${e.ip}:${e.port}`;

/** No other domain resolves (none is asked for). */
const noDns: DnsClient = {
  a: () => Promise.resolve({ records: [], ttl: 60 }),
  srv: () => Promise.resolve({ records: [], ttl: 60 }),
};

/** A node of bb.com running in this process on a manual clock. */
async function startNode(
  config: string,
  options: Partial<RunNodeOptions> = {},
  files: { state?: boolean } = {},
) {
  const base = new URL("./.tmp", import.meta.url).pathname;
  await Deno.mkdir(base, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: base, prefix: "node-clock-" });
  await Deno.writeTextFile(`${dir}/nodelumi.cfg`, config);
  const clock = new ManualClock();
  const socket = new MemorySocket(NODE);
  const stop = new AbortController();
  const listening = Promise.withResolvers<void>();
  const done = runNode({
    configPath: `${dir}/nodelumi.cfg`,
    logPath: false,
    statePath: files.state ? `${dir}/nodelumi.state` : false,
    databasePath: `${dir}/accounts.db`,
    bind: () => socket,
    dns: noDns,
    clock,
    write: (text) => {
      if (text.startsWith("LUMI node bb.com listening")) listening.resolve();
    },
    signal: stop.signal,
    ...options,
  });
  await Promise.race([listening.promise, done]);
  /** Deliver `text` from `from` and return the next datagram the node sends. */
  const ask = (text: string, from: Endpoint) => {
    socket.deliver(text, from);
    return socket.next();
  };
  return {
    dir,
    clock,
    socket,
    ask,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await done;
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** A first extended PR of `agent`, padded as agents pad it (docs/PROTOCOL.md). */
const padded = (agent: TestAgent) => `${agent.hello()};x=`.padEnd(100, "-");

Deno.test("runNode on a manual clock: an agent that stops its heartbeats goes offline, one that keeps them stays", async () => {
  await using node = await startNode("domain = bb.com\n[users]\nlaura\njoan\n");
  const laura = new TestAgent("laura@bb.com");
  const granted = await node.ask(padded(laura), LAURA);
  laura.keep(granted.slice(granted.indexOf(" ") + 1));
  const joan = new TestAgent("joan@bb.com");
  ok((await node.ask(padded(joan), JOAN)).startsWith(`${at(JOAN)} RR0;v=2;k=`));
  // Laura beats every 30 s (the default `hb`); Joan never does. Three missed beats: offline.
  for (let second = 30; second <= 120; second += 30) {
    node.clock.advance(30_000);
    const beat = await node.ask(laura.seal("PKlaura@bb.com"), LAURA);
    ok(beat.startsWith(`${at(LAURA)} RK0;c=`), `at ${second} s: ${beat}`);
    if (second === 60) {
      // Within its three beats Joan is still online: a look-up goes on to its agent.
      deepStrictEqual(
        await node.ask("PLx@bb.com:joan@bb.com", STRANGER),
        `${at(JOAN)} PLx@bb.com:joan@bb.com`,
      );
    }
  }
  deepStrictEqual(
    await node.ask("PLx@bb.com:joan@bb.com", STRANGER),
    `${at(STRANGER)} RL3x@bb.com:joan@bb.com`,
  );
  deepStrictEqual(
    await node.ask("PLx@bb.com:laura@bb.com", STRANGER),
    `${at(LAURA)} PLx@bb.com:laura@bb.com`,
  );
  deepStrictEqual(node.socket.take(), []);
});

Deno.test("runNode on a manual clock: the fifth look-up of a silent original agent is answered RL3", async () => {
  await using node = await startNode("domain = bb.com\n[users]\nlaura\njoan\n", {
    databasePath: false,
  });
  strictEqual(await node.ask("PRlaura@bb.com", LAURA), `${at(LAURA)} RR0`);
  strictEqual(await node.ask("PRjoan@bb.com", JOAN), `${at(JOAN)} RR0`);
  for (let i = 1; i <= 4; i++) {
    const forwarded = await node.ask("PLlaura@bb.com:joan@bb.com", LAURA);
    strictEqual(forwarded, `${at(JOAN)} PLlaura@bb.com:joan@bb.com`, `look-up ${i}`);
    node.clock.advance(1_000);
    strictEqual(node.socket.take().length, 2, "sent again twice while silent");
  }
  strictEqual(
    await node.ask("PLlaura@bb.com:joan@bb.com", LAURA),
    `${at(LAURA)} RL3laura@bb.com:joan@bb.com`,
  );
});

Deno.test("runNode on a manual clock: the state is saved when the clock passes the interval", async () => {
  await using node = await startNode("domain = bb.com\n[users]\nlaura\n", {
    databasePath: false,
    stateIntervalMs: 10_000,
    journalCommitMs: 60_000,
  }, { state: true });
  const saved = () => Deno.readTextFile(`${node.dir}/nodelumi.state`).catch(() => "");
  strictEqual(await node.ask("PRlaura@bb.com", LAURA), `${at(LAURA)} RR0`);
  const watcher = Deno.watchFs(node.dir);
  const deadline = setTimeout(() => watcher.close(), 10_000);
  try {
    node.clock.advance(9_999);
    strictEqual((await saved()).includes("laura"), false, "not saved before the interval");
    node.clock.advance(1);
    let content = await saved();
    if (!content.includes("laura")) {
      for await (const _ of watcher) {
        content = await saved();
        if (content.includes("laura")) break;
      }
    }
    ok(content.includes(at(LAURA)), `saved: ${content}`);
  } finally {
    clearTimeout(deadline);
    watcher.close();
  }
});
