/**
 * Strangers against a real agent process: datagrams forged by someone who is
 * not the agent's node, and a terminal nobody reads. The agent believes only
 * its node, and never waits on its output. Stranger sockets bind in
 * 127.0.105.x.
 */

import assert from "#assert";
import {
  advertisedEndpoint,
  OriginalAgent,
  RawPmi,
  ScriptedNode,
  startAgent,
  startNode,
} from "./support/agent_peers.ts";
import { projectRoot, taskFlags, tempDir } from "./support/process.ts";
import { UdpPeer } from "./support/udp_peer.ts";
import { listenTcp } from "../lib/transport/tcp.ts";
import net from "node:net";

Deno.test("datagrams from a stranger are dropped: a forged PL shows no call, a forged RL0 connects nowhere", async (t) => {
  const dir = await tempDir("strangers-");
  await using node = new ScriptedNode();
  await using laura = await startAgent(dir, "laura@bb.com", "Laura", node.endpoint);
  const registered = await node.waitFor(/^PRlaura@bb\.com/);
  const lauraUdp = registered.from;
  const at = await advertisedEndpoint(laura);
  await using stranger = UdpPeer.open("stranger", "127.0.105.1");
  // Where the stranger would like laura to connect to.
  const trap = listenTcp({ ip: "127.0.105.1", port: 0 });
  let trapped = 0;
  const trapping = (async () => {
    for await (const conn of trap) {
      trapped++;
      conn.close();
    }
  })();

  try {
    await t.step("a forged look-up is not answered, and names nobody", async () => {
      await stranger.send("PLboss@bb.com:laura@bb.com", lauraUdp);
      await stranger.send("PLboss@bb.com:laura@bb.com", lauraUdp);
      // Then the node forwards a real look-up: it is answered, to the node.
      await node.udp.send("PLjoan@bb.com:laura@bb.com", lauraUdp);
      await node.waitFor(/^RL0joan@bb\.com:laura@bb\.com:/);
      await assert.rejects(() => stranger.receive(300));
      await using pmi = await RawPmi.connect(at);
      await pmi.send("N04Joan");
      assert.equal((await pmi.readFrame()).type, "N");
      // The caller is the one the node vouched for, not the stranger's "Boss".
      await laura.waitFor(/^Incoming call from Joan \(joan@bb\.com\)$/);
      assert.ok(!laura.lines.some((l) => /boss/i.test(l)), laura.lines.join("\n"));
      pmi.close();
      await laura.waitFor(/^Conversation with Joan ended/);
    });

    await t.step("a forged RL0 does not connect the call to the stranger", async () => {
      const before = node.packets.length;
      await laura.send("joan@bb.com");
      const asked = await node.waitFor(/^PLlaura@bb\.com:joan@bb\.com$/);
      const forged = `RL0laura@bb.com:joan@bb.com:127.0.105.1:${trap.local.port}`;
      for (let i = 0; i < 10; i++) await stranger.send(forged, lauraUdp);
      // laura ignored it: it asks the node again a second later.
      const first = node.packets.indexOf(asked, before);
      await waitUntil(
        () => node.packets.slice(first + 1).some((p) => p.text === "PLlaura@bb.com:joan@bb.com"),
        5_000,
      );
      await using joan = await OriginalAgentListener.open();
      await node.udp.send(
        `RL0laura@bb.com:joan@bb.com:127.0.0.1:${joan.port}`,
        lauraUdp,
      );
      const call = await joan.accept();
      assert.equal((await call.readFrame()).text, "Laura");
      await call.send("N04Joan");
      await laura.waitFor(/^Connected to Joan \(joan@bb\.com\)$/);
      assert.equal(trapped, 0);
      call.close();
    });

    await t.step("the strangers' datagrams were counted", async () => {
      await laura.send("/quit");
      await laura.waitFor(/^Ignored (\d+) malformed or unexpected datagrams$/);
      const count = Number(
        laura.lines.find((l) => l.startsWith("Ignored "))!.match(/\d+/)![0],
      );
      assert.ok(count >= 12, `${count}`);
    });
  } finally {
    trap.close();
    await trapping;
  }
});

Deno.test("an agent whose output nobody reads keeps answering look-ups and receiving lines", async () => {
  const dir = await tempDir("unread-");
  const started = await startNode(dir, "bb.com", ["laura", "joan"]);
  await using _node = started.process;
  await using joan = new OriginalAgent("joan@bb.com");
  await joan.register(started.endpoint);

  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...await taskFlags("agent"),
      `${projectRoot}main_agent.ts`,
      "--address",
      "laura@bb.com",
      "--nick",
      "Laura",
      "--node",
      `${started.endpoint.ip}:${started.endpoint.port}`,
      "--no-log",
    ],
    cwd: dir,
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1", XDG_DATA_HOME: `${dir}/data` },
  }).spawn();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const readUntil = async (pattern: RegExp) => {
    while (!pattern.test(seen)) {
      const chunk = await reader.read();
      if (chunk.done) throw new Error(`stdout ended before ${pattern}: ${seen.slice(-500)}`);
      seen += decoder.decode(chunk.value, { stream: true });
    }
  };
  try {
    await readUntil(/Registered laura@bb\.com/);
    // From now on nobody reads laura's output.
    const answer = await joan.lookup(started.endpoint, "laura@bb.com");
    const match = answer.match(/^RL0joan@bb\.com:laura@bb\.com:([\d.]+):(\d+)/);
    if (!match) throw new Error(`not an RL0: ${answer}`);
    await using pmi = await RawPmi.connect({ ip: match[1]!, port: Number(match[2]) });
    await pmi.send("N04Fill");
    assert.equal((await pmi.readFrame()).type, "N");
    const line = `L99${"x".repeat(99)}`;
    // 20 rounds of 200 lines: 400 KB of output that nobody reads, far past any pipe buffer.
    for (let round = 0; round < 20; round++) {
      await pmi.send(line.repeat(200));
      const reply = await joan.lookup(started.endpoint, "laura@bb.com");
      assert.match(reply, /^RL0joan@bb\.com:laura@bb\.com:/, `round ${round}: ${reply}`);
    }
    await pmi.send("L04last");
    // Now read: the output goes on, with one marker where lines were dropped.
    await readUntil(/Fill: last\n/);
    // One marker line for each stretch of dropped output (the pipe may have been drained a little
    // in between by the stream's own buffering); every line shown is whole.
    assert.match(seen, /\n\[\d+ lines of output dropped: nobody was reading it\]\n/);
    const fills = seen.split("\n").filter((l) => l.startsWith("Fill: "));
    assert.ok(fills.every((l) => l === `Fill: ${"x".repeat(99)}` || l === "Fill: last"));
    assert.ok(fills.length < 4_000, `${fills.length} of 4,000 lines shown`);
  } finally {
    reader.releaseLock();
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stdin.close().catch(() => {});
  }
});

/** Wait until `condition` holds, checking every 20 ms, failing after `timeoutMs`. */
async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A TCP listener playing an original agent's @sckMI. */
class OriginalAgentListener implements AsyncDisposable {
  readonly #listener = listenTcp({ ip: "127.0.0.1", port: 0 });
  readonly #accepted = this.#listener[Symbol.asyncIterator]();

  static open(): Promise<OriginalAgentListener> {
    return Promise.resolve(new OriginalAgentListener());
  }

  get port(): number {
    return this.#listener.local.port;
  }

  async accept(): Promise<RawPmi> {
    const next = await this.#accepted.next();
    if (next.done) throw new Error("listener closed");
    return new RawPmi(next.value);
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    return Promise.resolve();
  }
}

/** A TCP connection from `localIp` (node:net can choose the source address; Deno.connect cannot). */
function connectFrom(localIp: string, to: { ip: string; port: number }): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: to.ip, port: to.port, localAddress: localIp });
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

Deno.test("eight callers that send a nickname and then nothing, and eight silent ones reopened as they are cut, never make the agent busy", async () => {
  const dir = await tempDir("evil-eight-");
  const started = await startNode(dir, "bb.com", ["laura", "joan"]);
  await using _node = started.process;
  await using laura = await startAgent(dir, "laura@bb.com", "Laura", started.endpoint, [
    "--nick-timeout",
    "1",
  ]);
  const at = await advertisedEndpoint(laura);
  const evil: RawPmi[] = [];
  let reopening = true;
  let cuts = 0;
  const silent = (async () => {
    // Eight silent connections, each reopened as soon as the agent cuts it.
    const one = async () => {
      while (reopening) {
        const pmi = await RawPmi.connect(at).catch(() => null);
        if (!pmi) return;
        evil.push(pmi);
        await pmi.expectEnd(5_000).then(() => cuts++, () => {});
        pmi.close();
      }
    };
    await Promise.all(Array.from({ length: 8 }, one));
  })();
  try {
    for (let i = 0; i < 8; i++) {
      const pmi = await RawPmi.connect(at);
      evil.push(pmi);
      await pmi.send("N04Evil");
      assert.equal((await pmi.readFrame()).text, "Laura");
    }
    // Every silent one was cut after the 1 s handshake timeout, and reopened, at least once.
    await waitUntil(() => cuts >= 8, 10_000);
    await laura.waitFor(/^Incoming connection from 127\.0\.0\.1:\d+ dropped: no nickname received/);
    // Joan's look-up is answered RL0 (not busy), and her conversation goes through.
    await using joan = await startAgent(dir, "joan@bb.com", "Joan", started.endpoint);
    for (let call = 0; call < 2; call++) {
      await joan.send("laura@bb.com");
      await joan.waitFor(/^Connected to Laura \(laura@bb\.com\)$/, { from: joan.lines.length });
      await joan.send(`call ${call}`);
      await laura.waitFor(new RegExp(`^(\\[.*\\] )?Joan: call ${call}$`));
      await joan.send("/exit");
      await laura.waitFor(/^Conversation with Joan ended/, { from: laura.lines.length });
    }
    assert.ok(!joan.lines.some((l) => / is busy$/.test(l)));
    // The strangers were never shown as calls: none of them said a line.
    assert.ok(!laura.lines.some((l) => /Incoming call from Evil/.test(l)));
  } finally {
    reopening = false;
    for (const pmi of evil) pmi.close();
    await silent;
  }
});

Deno.test({
  name: "a real caller gets through while 1,000 hostile connections from 125 addresses are open",
  // Binding 127.0.105.x needs the whole 127/8 on loopback, as Linux has.
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await tempDir("thousand-");
    const started = await startNode(dir, "bb.com", ["laura", "joan"]);
    await using _node = started.process;
    // Default limits and timeouts: what a user runs.
    await using laura = await startAgent(dir, "laura@bb.com", "Laura", started.endpoint);
    const at = await advertisedEndpoint(laura);
    const hostile: net.Socket[] = [];
    let evilSettled = 0;
    let silentCut = 0;
    try {
      // 8 from each of 127.0.105.1–125: half say a nickname and then nothing, half say nothing.
      for (let host = 1; host <= 125; host++) {
        const batch = await Promise.all(
          Array.from({ length: 8 }, () => connectFrom(`127.0.105.${host}`, at)),
        );
        batch.forEach((socket, i) => {
          socket.on("error", () => {});
          if (i % 2 === 0) {
            socket.write("N04Evil");
            // Answered with Laura's nickname (it is a quiet conversation now), or cut.
            socket.once("data", () => evilSettled++);
            socket.once("close", () => evilSettled++);
          } else socket.once("close", () => silentCut++);
        });
        hostile.push(...batch);
      }
      assert.equal(hostile.length, 1_000);
      // The agent has taken them all in: at most 32 silent ones are left being set up.
      await waitUntil(() => evilSettled >= 500 && silentCut >= 500 - 32, 20_000);
      await using joan = await startAgent(dir, "joan@bb.com", "Joan", started.endpoint);
      const started_ = performance.now();
      await joan.send("laura@bb.com");
      await joan.waitFor(/^Connected to Laura \(laura@bb\.com\)$/);
      await joan.send("through the storm");
      await laura.waitFor(/^(\[.*\] )?Joan: through the storm$/);
      const tookMs = performance.now() - started_;
      console.log(`the real caller got through in ${Math.round(tookMs)} ms`);
      // What the agent printed about the strangers stays a handful of lines.
      const strangers = laura.lines.filter((l) => /Refused|Evil|127\.0\.105\./.test(l));
      assert.ok(strangers.length < 50, `${strangers.length} lines:\n${strangers.join("\n")}`);
      // And the hostile connections that were not cut are still open.
      assert.ok(hostile.filter((socket) => !socket.destroyed).length >= 32);
    } finally {
      for (const socket of hostile) socket.destroy();
    }
  },
});
