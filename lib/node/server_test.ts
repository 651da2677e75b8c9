import { deepStrictEqual, strictEqual } from "#assert";
import { configure, type LogRecord, reset } from "#log";
import { ManualClock } from "../clock.ts";
import type { NodeLocator } from "../locate.ts";
import type { Endpoint } from "../plumi/address.ts";
import { NodeCore } from "./core.ts";
import type { Directory } from "./directory.ts";
import { ExtendedService } from "./extended.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import { RateLimiter } from "./rate_limit.ts";
import { AccountStore } from "./store.ts";
import { RemotePresence } from "./remote_presence.ts";
import { MemorySocket } from "./memory_socket.ts";
import { Outbox } from "./outbox.ts";
import { NodeServer } from "./server.ts";
import { newSessionKeyPair } from "../plumi/extensions/mod.ts";

const NODE: Endpoint = { ip: "10.0.0.100", port: 3344 };
const LAURA: Endpoint = { ip: "10.0.0.1", port: 4001 };
const JOAN: Endpoint = { ip: "10.0.0.2", port: 4002 };
const STRANGER: Endpoint = { ip: "10.0.0.9", port: 4009 };
const NODE_C: Endpoint = { ip: "10.0.0.200", port: 3344 };

const noLocator: NodeLocator = {
  locate: () => Promise.resolve([]),
  reportDown: () => {},
};

function server(
  options: {
    directory?: Directory;
    locator?: NodeLocator;
    limiter?: RateLimiter;
    /** Answer deadline of forwarded look-ups (failover), in ms. */
    answerTimeoutMs?: number;
    /** With the presence of other domains' buddies (the extensions' remote side). */
    remote?: boolean;
    /** With the extensions, over an in-memory account database. */
    extended?: boolean;
  } = {},
) {
  const directory = options.directory ?? new MemoryDirectory(["laura", "joan"]);
  const clock = new ManualClock();
  const socket = new MemorySocket(NODE);
  const outbox = new Outbox({ socket });
  const core = new NodeCore({
    domain: "bb.com",
    directory,
    clock,
    now: () => 42,
    send: outbox.send,
  });
  const locator = options.locator ?? noLocator;
  const remote = options.remote
    ? new RemotePresence({ locator, send: outbox.send, refreshMs: 30_000, clock })
    : undefined;
  const extended = options.extended
    ? new ExtendedService({
      domain: "bb.com",
      directory,
      store: AccountStore.open(":memory:"),
      isLocal: (domain) => domain === "bb.com",
      now: () => clock.wallNow(),
      ...(remote && { remote }),
    })
    : undefined;
  const node = new NodeServer({
    core,
    socket,
    outbox,
    locator,
    directory,
    clock,
    ...(options.limiter && { limiter: options.limiter }),
    ...(options.answerTimeoutMs !== undefined && { answerTimeoutMs: options.answerTimeoutMs }),
    ...(remote && { remote }),
    ...(extended && { extended }),
  });
  const datagram = (text: string, from: Endpoint) =>
    node.handleDatagram(new TextEncoder().encode(text), from);
  return { node, socket, clock, directory, core, datagram, remote };
}

/** A directory that fails on look-ups by name: a bug, as far as the server knows. */
class BrokenDirectory extends MemoryDirectory {
  override get(name: string): ReturnType<Directory["get"]> {
    if (name === "joan") throw new TypeError("the directory is broken");
    return super.get(name);
  }
}

Deno.test("an exception in a handler is a counted drop, and the node goes on serving", () => {
  const { node, socket, datagram } = server({ directory: new BrokenDirectory(["laura", "joan"]) });
  datagram("PLlaura@bb.com:joan@bb.com", LAURA);
  datagram("PRjoan@bb.com", JOAN);
  strictEqual(node.stats.dropped["internal-error"], 2);
  datagram("PRlaura@bb.com", LAURA);
  deepStrictEqual(socket.take(), ["10.0.0.1:4001 RR0"]);
});

Deno.test("an exception in an asynchronous handler is a counted drop too", async () => {
  const locator: NodeLocator = {
    locate: () => Promise.reject(new Error("the resolver is broken")),
    reportDown: () => {},
  };
  const { node, socket, datagram } = server({ locator });
  datagram("PRlaura@bb.com", LAURA);
  datagram("PLlaura@bb.com:pere@cc.com", LAURA);
  await node.settled();
  strictEqual(node.stats.dropped["internal-error"], 1);
  deepStrictEqual(socket.take(), ["10.0.0.1:4001 RR0"]);
});

Deno.test("a source that has not registered gets RL2 and RL3, one byte longer than its PL", () => {
  const { node, socket, datagram } = server();
  datagram("PLx@bb.com:laura@bb.com", STRANGER);
  datagram("PLx@bb.com:nobody@bb.com", STRANGER);
  deepStrictEqual(socket.take(), [
    "10.0.0.9:4009 RL3x@bb.com:laura@bb.com",
    "10.0.0.9:4009 RL2x@bb.com:nobody@bb.com",
  ]);
  strictEqual(node.stats.dropped["amplification-guard"], undefined);
});

Deno.test("an answer more than a byte longer than the request of an unregistered source is not sent", () => {
  const { node, socket, clock, datagram } = server({ directory: new MemoryDirectory(["a"]) });
  datagram("PRa@bb.com", LAURA);
  clock.advance(5_000);
  // The move is refused (the agent answers its probe) with RR1;v=2;e=signed-in: 19 bytes for 14.
  datagram("PRa@bb.com;v=2", STRANGER);
  clock.advance(10);
  datagram("RL0.lumi-probe@bb.com:a@bb.com:10.0.0.1:40000", LAURA);
  clock.advance(300);
  deepStrictEqual(socket.take(), [
    "10.0.0.1:4001 RR0",
    "10.0.0.1:4001 PL.lumi-probe@bb.com:a@bb.com",
  ]);
  strictEqual(node.stats.dropped["amplification-guard"], 1);
});

Deno.test("a PR moving an online user waits for a probe of its agent: refused if it answers", () => {
  const { socket, clock, directory, datagram } = server();
  datagram("PRlaura@bb.com", LAURA);
  clock.advance(5_000);
  socket.take();
  datagram("PRlaura@bb.com", STRANGER);
  datagram("PRlaura@bb.com", STRANGER); // a copy: not queued twice
  deepStrictEqual(socket.take(), ["10.0.0.1:4001 PL.lumi-probe@bb.com:laura@bb.com"]);
  clock.advance(10);
  datagram("RL0.lumi-probe@bb.com:laura@bb.com:10.0.0.1:40000", LAURA);
  clock.advance(300);
  deepStrictEqual(socket.take(), ["10.0.0.9:4009 RR1"]);
  deepStrictEqual(directory.get("laura")?.endpoint, LAURA);
});

Deno.test("a PR moving an online user whose agent stays silent moves it", () => {
  const { socket, clock, directory, datagram } = server();
  datagram("PRlaura@bb.com", LAURA);
  clock.advance(5_000);
  socket.take();
  datagram("PRlaura@bb.com", STRANGER);
  clock.advance(1_100);
  const sent = socket.take();
  deepStrictEqual(sent.filter((line) => !line.includes("PL.lumi-probe")), ["10.0.0.9:4009 RR0"]);
  deepStrictEqual(directory.get("laura")?.endpoint, STRANGER);
});

Deno.test("a flood from an exempt source is throttled past its budget, never banned", () => {
  const limiter = new RateLimiter({ limit: 5, exempt: ["10.0.0.9"], exemptLimit: 20 });
  const { node, socket, datagram } = server({ limiter });
  for (let i = 0; i < 100; i++) datagram("PLx@bb.com:nobody@bb.com", STRANGER);
  strictEqual(socket.take().length, 20);
  strictEqual(node.stats.dropped["rate-limited"], 80);
  strictEqual(node.stats.bans, 0);
  // Another source keeps its own budget.
  datagram("PRlaura@bb.com", LAURA);
  deepStrictEqual(socket.take(), ["10.0.0.1:4001 RR0"]);
});

Deno.test("an internal error is logged once with its stack; a stream of them at most ten a minute", async () => {
  const records: LogRecord[] = [];
  await configure({
    reset: true,
    sinks: { memory: (record) => records.push(record) },
    loggers: [
      { category: ["lumi"], lowestLevel: "error", sinks: ["memory"] },
      { category: ["logtape", "meta"], lowestLevel: "error", sinks: [] },
    ],
  });
  try {
    const { node, clock, datagram } = server({ directory: new BrokenDirectory(["laura", "joan"]) });
    datagram("PRjoan@bb.com", JOAN);
    strictEqual(records.length, 1);
    const reason = String(records[0]!.properties["reason"]);
    strictEqual(reason.startsWith("TypeError: the directory is broken\n"), true, reason);
    strictEqual(reason.includes("BrokenDirectory.get"), true, reason);
    for (let i = 0; i < 50; i++) datagram("PRjoan@bb.com", JOAN);
    strictEqual(node.stats.dropped["internal-error"], 51);
    strictEqual(records.length, 10);
    // A minute later, one more line, saying how many were left out.
    clock.advance(60_000);
    datagram("PRjoan@bb.com", JOAN);
    strictEqual(records.length, 11);
    strictEqual(records[10]!.properties["quiet"], 41);
  } finally {
    await reset();
  }
});

/** Other domains: cc.com's node is NODE_C; marked down nodes are kept in `downs`. */
function otherDomains() {
  const downs: Endpoint[] = [];
  const locator: NodeLocator = {
    locate: (domain) => Promise.resolve(domain === "cc.com" ? [NODE_C] : []),
    reportDown: (endpoint) => void downs.push(endpoint),
  };
  return { locator, downs };
}

Deno.test("a silent agent's fifth look-up is answered RL3 by the node, on the manual clock", () => {
  const { socket, clock, directory, core, datagram } = server();
  datagram("PRlaura@bb.com", LAURA);
  datagram("PRjoan@bb.com", JOAN);
  socket.take();
  for (let i = 1; i <= 4; i++) {
    datagram("PLlaura@bb.com:joan@bb.com", LAURA);
    deepStrictEqual(socket.take(), ["10.0.0.2:4002 PLlaura@bb.com:joan@bb.com"], `look-up ${i}`);
    clock.advance(1_000);
    // Silent after 400 ms: the awaited look-up is sent again, twice, before the 800 ms deadline.
    deepStrictEqual(socket.take(), [
      "10.0.0.2:4002 PLlaura@bb.com:joan@bb.com",
      "10.0.0.2:4002 PLlaura@bb.com:joan@bb.com",
    ]);
  }
  strictEqual(core.liveness.unanswered("joan"), 4);
  datagram("PLlaura@bb.com:joan@bb.com", LAURA);
  deepStrictEqual(socket.take(), ["10.0.0.1:4001 RL3laura@bb.com:joan@bb.com"]);
  strictEqual(directory.get("joan"), null);
  // Any datagram from its address brings it back.
  datagram("RL1x@bb.com:joan@bb.com", JOAN);
  deepStrictEqual(directory.get("joan")?.endpoint, JOAN);
});

Deno.test("an agent that answers within the deadline is never taken offline", () => {
  const { socket, clock, core, datagram } = server();
  datagram("PRlaura@bb.com", LAURA);
  datagram("PRjoan@bb.com", JOAN);
  for (let i = 0; i < 10; i++) {
    datagram("PLlaura@bb.com:joan@bb.com", LAURA);
    clock.advance(300);
    datagram("RL0laura@bb.com:joan@bb.com:10.0.0.2:40000", JOAN);
    clock.advance(1_000);
  }
  strictEqual(core.liveness.unanswered("joan"), 0);
  const sent = socket.take();
  strictEqual(sent.filter((line) => line.startsWith("10.0.0.1:4001 RL0")).length, 10);
  strictEqual(sent.filter((line) => line.includes("RL3")).length, 0);
});

Deno.test("a forwarded look-up left unanswered marks the other node down when its deadline passes", async () => {
  const { locator, downs } = otherDomains();
  const { node, socket, clock, datagram } = server({ locator, answerTimeoutMs: 1_500 });
  datagram("PRlaura@bb.com", LAURA);
  socket.take();
  datagram("PLlaura@bb.com:pere@cc.com", LAURA);
  await node.settled();
  deepStrictEqual(socket.take(), ["10.0.0.200:3344 PLlaura@bb.com:pere@cc.com"]);
  strictEqual(node.stats.forwarded, 1);
  clock.advance(1_499);
  deepStrictEqual(downs, []);
  clock.advance(1);
  deepStrictEqual(downs, [NODE_C]);
});

Deno.test("a forwarded look-up answered in time marks nothing down, and its answer reaches the caller", async () => {
  const { locator, downs } = otherDomains();
  const { node, socket, clock, datagram } = server({ locator });
  datagram("PRlaura@bb.com", LAURA);
  socket.take();
  datagram("PLlaura@bb.com:pere@cc.com", LAURA);
  await node.settled();
  clock.advance(900);
  datagram("RL0laura@bb.com:pere@cc.com:10.0.0.201:5000", NODE_C);
  clock.advance(10_000);
  deepStrictEqual(downs, []);
  deepStrictEqual(socket.take(), [
    "10.0.0.200:3344 PLlaura@bb.com:pere@cc.com",
    "10.0.0.1:4001 RL0laura@bb.com:pere@cc.com:10.0.0.201:5000",
  ]);
});

Deno.test("a capability probe's answer goes to the presence cache, which then asks its query", async () => {
  const { locator } = otherDomains();
  const { socket, datagram, remote } = server({ locator, remote: true });
  strictEqual(remote!.status("laura@bb.com", "pere@cc.com").state, "?");
  const probe = await socket.next();
  strictEqual(probe.startsWith("10.0.0.200:3344 PR.lumi-probe@cc.com;v=2;x=-"), true, probe);
  datagram("RR1;v=2;e=user", NODE_C);
  const query = await socket.next();
  strictEqual(query.startsWith("10.0.0.200:3344 PPpere@cc.com;w=laura@bb.com;x=-"), true, query);
});

Deno.test("a capability probe left unanswered times out on the node's clock: probed again later", async () => {
  const { locator } = otherDomains();
  const { socket, clock, remote } = server({ locator, remote: true });
  remote!.status("laura@bb.com", "pere@cc.com");
  strictEqual((await socket.next()).includes("PR.lumi-probe@cc.com"), true);
  // Two seconds without an answer: an original node; known as such for a minute.
  clock.advance(2_000);
  clock.advance(60_000);
  remote!.status("laura@bb.com", "pere@cc.com");
  strictEqual((await socket.next()).includes("PR.lumi-probe@cc.com"), true);
  deepStrictEqual(socket.take(), []);
});

Deno.test("a v=2 PR goes to the extensions after the core's checks, and its grant comes back", async () => {
  const { node, socket, datagram } = server({ extended: true });
  const key = newSessionKeyPair().publicKey;
  datagram(`PRlaura@bb.com;v=2;k=${key};x=`.padEnd(100, "-"), LAURA);
  await node.settled();
  const [granted, ...more] = socket.take();
  strictEqual(granted?.startsWith("10.0.0.1:4001 RR0;v=2;k="), true, granted);
  deepStrictEqual(more, []);
});

Deno.test("a presence query is answered only when it comes from the watcher's node", async () => {
  const { locator } = otherDomains();
  const { node, socket, datagram } = server({ locator, extended: true });
  const query = "PPlaura@bb.com;w=pere@cc.com;x=".padEnd(60, "-");
  datagram(query, STRANGER);
  await node.settled();
  deepStrictEqual(socket.take(), []);
  strictEqual(node.stats.dropped["unverified-node"], 1);
  datagram(query, NODE_C);
  await node.settled();
  const [answer, ...more] = socket.take();
  strictEqual(answer?.startsWith("10.0.0.200:3344 RP"), true, answer);
  deepStrictEqual(more, []);
});

Deno.test("a presence query whose buddy's node cannot be found is counted, never an unhandled rejection", async () => {
  const failure = Promise.withResolvers<never>();
  const locator: NodeLocator = {
    locate: () => {
      failure.reject(new Error("the resolver is broken"));
      return failure.promise;
    },
    reportDown: () => {},
  };
  const { socket, remote } = server({ locator, remote: true });
  remote!.status("laura@bb.com", "pere@cc.com");
  await failure.promise.catch(() => {});
  // Every reaction to the rejection has run once the event loop turns.
  await new Promise((resolve) => setTimeout(resolve, 0));
  strictEqual(remote!.failedQueries, 1);
  deepStrictEqual(socket.take(), []);
});
