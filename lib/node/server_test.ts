import { deepStrictEqual, strictEqual } from "#assert";
import { configure, type LogRecord, reset } from "#log";
import { ManualClock } from "../clock.ts";
import type { NodeLocator } from "../locate.ts";
import type { Endpoint } from "../plumi/address.ts";
import type { DatagramSocket } from "../transport/udp.ts";
import { NodeCore } from "./core.ts";
import type { Directory } from "./directory.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import { RateLimiter } from "./rate_limit.ts";
import { NodeServer } from "./server.ts";

const NODE: Endpoint = { ip: "10.0.0.100", port: 3344 };
const LAURA: Endpoint = { ip: "10.0.0.1", port: 4001 };
const JOAN: Endpoint = { ip: "10.0.0.2", port: 4002 };
const STRANGER: Endpoint = { ip: "10.0.0.9", port: 4009 };

/** A socket that keeps what is sent, as `ip:port text`. */
class RecordingSocket implements DatagramSocket {
  readonly local = NODE;
  readonly sent: string[] = [];
  send(bytes: Uint8Array, to: Endpoint): Promise<boolean> {
    this.sent.push(`${to.ip}:${to.port} ${new TextDecoder().decode(bytes)}`);
    return Promise.resolve(true);
  }
  receive(): Promise<null> {
    return Promise.resolve(null);
  }
  close(): void {}
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
  /** What was sent since the last call. */
  take(): string[] {
    return this.sent.splice(0);
  }
}

const noLocator: NodeLocator = {
  locate: () => Promise.resolve([]),
  reportDown: () => {},
};

function server(
  options: {
    directory?: Directory;
    locator?: NodeLocator;
    limiter?: RateLimiter;
  } = {},
) {
  const directory = options.directory ?? new MemoryDirectory(["laura", "joan"]);
  const clock = new ManualClock();
  const core = new NodeCore({ domain: "bb.com", directory, clock, now: () => 42 });
  const socket = new RecordingSocket();
  const node = new NodeServer({
    core,
    socket,
    locator: options.locator ?? noLocator,
    directory,
    clock,
    ...(options.limiter && { limiter: options.limiter }),
  });
  const datagram = (text: string, from: Endpoint) =>
    node.handleDatagram(new TextEncoder().encode(text), from);
  return { node, socket, clock, directory, datagram };
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
  // The forward's promise settles on a later turn of the event loop.
  for (let i = 0; i < 5 && !node.stats.dropped["internal-error"]; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
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
