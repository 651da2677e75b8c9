/**
 * The node program end to end: real `main_node.ts` processes, each in its own
 * temporary directory, spoken to over loopback UDP by {@linkcode UdpPeer}
 * sockets that play agents, other nodes and a DNS server. Every wait is on a
 * datagram or an output line; nothing sleeps.
 *
 * @module
 */

import { stderrLine } from "./support/node_harness.ts";
import { deepStrictEqual, ok, strictEqual } from "#assert";
import { LOG_CLOSE_MARKER, LOG_OPEN_MARKER } from "../lib/packet_log.ts";
import type { Endpoint } from "../lib/plumi/address.ts";
import { type ChildProcess, startProgram, tempDir } from "./support/process.ts";
import { type Received, UdpPeer } from "./support/udp_peer.ts";

/** A temporary directory: the node's cwd, the only place it may read and write. */
class NodeDir implements AsyncDisposable {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** A fresh directory holding `files` (name → text). */
  static async create(prefix: string, files: Record<string, string> = {}): Promise<NodeDir> {
    const dir = new NodeDir(await tempDir(`node-${prefix}-`));
    for (const [name, text] of Object.entries(files)) await dir.write(name, text);
    return dir;
  }

  read(name: string): Promise<string> {
    return Deno.readTextFile(`${this.path}/${name}`);
  }

  write(name: string, text: string): Promise<void> {
    return Deno.writeTextFile(`${this.path}/${name}`, text);
  }

  /** Names of the files in the directory, sorted. */
  async files(): Promise<string[]> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(this.path)) names.push(entry.name);
    return names.sort();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(this.path, { recursive: true });
  }
}

/** A node process that has printed its listening line. */
interface RunningNode extends AsyncDisposable {
  readonly child: ChildProcess;
  /** Where it listens, read from its output. */
  readonly at: Endpoint;
}

interface NodeOptions {
  /** `--listen` (default 127.0.0.1:0). */
  readonly listen?: string;
  /** More flags. */
  readonly args?: readonly string[];
  /** Pipe stdin (default) or close it. */
  readonly stdin?: boolean;
}

const LISTENING = /^LUMI node (\S+) listening on (\d+\.\d+\.\d+\.\d+):(\d+) \((.*)\)$/;

/** Start `main_node.ts` in `dir` and wait until it listens. */
async function startNode(dir: NodeDir, options: NodeOptions = {}): Promise<RunningNode> {
  const child = await startProgram(
    "node",
    ["--listen", options.listen ?? "127.0.0.1:0", ...(options.args ?? [])],
    { cwd: dir.path, name: `node in ${dir.path}`, stdin: options.stdin ?? true },
  );
  let match: RegExpMatchArray;
  try {
    match = await child.waitFor(LISTENING);
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw error;
  }
  return {
    child,
    at: { ip: match[2]!, port: Number(match[3]) },
    [Symbol.asyncDispose]: () => child[Symbol.asyncDispose](),
  };
}

/** Send `signal` and wait for the exit. */
async function stop(node: RunningNode, signal: Deno.Signal = "SIGTERM") {
  node.child.kill(signal);
  return await node.child.exited();
}

/** Assert that `received` is exactly `text`, from `from`. */
function assertDatagram(received: Received, text: string, from: Endpoint, what = text): void {
  deepStrictEqual(
    { text: received.text, bytes: received.bytes.length, from: received.from },
    { text, bytes: text.length, from },
    what,
  );
}

/** Send `packet` from `peer` to `node` and assert the answer is exactly `expected`. */
async function exchange(peer: UdpPeer, node: Endpoint, packet: string, expected: string) {
  assertDatagram(await peer.request(packet, node), expected, node, `answer to ${packet}`);
}

/** Send a console command and wait for the answer line matching `pattern`. */
async function command(node: RunningNode, line: string, pattern: RegExp) {
  const from = node.child.lines.length;
  await node.child.send(line);
  return await node.child.waitFor(pattern, { from });
}

/** The log file's lines. */
async function logLines(dir: NodeDir, name: string): Promise<string[]> {
  return (await dir.read(name)).split("\n");
}

const ep = (e: Endpoint) => `${e.ip}:UDP:${e.port}`;

Deno.test("node answers PR with RR0 or RR1 and PD with RD0 or RD1", async () => {
  await using dir = await NodeDir.create("register", { "nodelumi.cfg": "bb.com laura joan\n" });
  await using node = await startNode(dir);
  await using agent = UdpPeer.open("agent");
  await exchange(agent, node.at, "PRlaura@bb.com", "RR0");
  await exchange(agent, node.at, "PRmarta@bb.com", "RR1");
  await exchange(agent, node.at, "PRlaura@cc.com", "RR1");
  await exchange(agent, node.at, "PRjoan@BB.COM", "RR0");
  await exchange(agent, node.at, "PDlaura@bb.com", "RD0");
  await exchange(agent, node.at, "PDmarta@bb.com", "RD1");
  await exchange(agent, node.at, "PDlaura@cc.com", "RD1");
  // Deregistered: a look-up now finds laura offline, joan still online (at the agent).
  await exchange(agent, node.at, "PLjoan@bb.com:laura@bb.com", "RL3joan@bb.com:laura@bb.com");
  await exchange(agent, node.at, "PLlaura@bb.com:joan@bb.com", "PLlaura@bb.com:joan@bb.com");
});

Deno.test("node answers look-ups: RL2 unknown, RL3 offline, online routed via the agent", async () => {
  await using dir = await NodeDir.create("lookup", { "nodelumi.cfg": "bb.com laura joan pere\n" });
  await using node = await startNode(dir);
  await using joan = UdpPeer.open("joan");
  await using laura = UdpPeer.open("laura");
  await exchange(joan, node.at, "PRjoan@bb.com", "RR0");
  await exchange(laura, node.at, "PRlaura@bb.com", "RR0");

  await exchange(joan, node.at, "PLjoan@bb.com:marta@bb.com", "RL2joan@bb.com:marta@bb.com");
  await exchange(joan, node.at, "PLjoan@bb.com:pere@bb.com", "RL3joan@bb.com:pere@bb.com");

  // Online: the PL reaches laura's socket unchanged, her answer reaches joan's unchanged.
  await joan.send("PLjoan@bb.com:laura@bb.com", node.at);
  assertDatagram(await laura.receive(), "PLjoan@bb.com:laura@bb.com", node.at);
  await laura.send("RL0joan@bb.com:laura@bb.com:127.0.0.1:43038", node.at);
  assertDatagram(await joan.receive(), "RL0joan@bb.com:laura@bb.com:127.0.0.1:43038", node.at);

  await joan.send("PLjoan@bb.com:laura@BB.com", node.at);
  assertDatagram(await laura.receive(), "PLjoan@bb.com:laura@BB.com", node.at);
  await laura.send("RL1joan@bb.com:laura@BB.com", node.at);
  assertDatagram(await joan.receive(), "RL1joan@bb.com:laura@BB.com", node.at);
  deepStrictEqual([joan.pending, laura.pending], [[], []]);
});

Deno.test("node forwards four unanswered look-ups and answers the fifth RL3, as the original; any datagram from the agent or a PR resets the count", async () => {
  await using dir = await NodeDir.create("offline", { "nodelumi.cfg": "bb.com laura joan\n" });
  await using node = await startNode(dir, { args: ["--verbose"] });
  await using joan = UdpPeer.open("joan");
  await using laura = UdpPeer.open("laura");
  const lookup = "PLjoan@bb.com:laura@bb.com";
  /** What laura got meanwhile: the node sends a silent agent the awaited look-up again. */
  const drainCopies = async (what: string) => {
    for (let left = laura.pending.length; left > 0; left--) {
      assertDatagram(await laura.receive(), lookup, node.at, `${what}: a copy`);
    }
  };
  /** `count` look-ups forwarded to laura, each counted unanswered once its deadline passed. */
  const unanswered = async (round: string, count: number) => {
    for (let i = 1; i <= count; i++) {
      const from = node.child.errors.length;
      await joan.send(lookup, node.at);
      assertDatagram(await laura.receive(), lookup, node.at, `${round}: look-up ${i} forwarded`);
      // Look-ups arriving meanwhile would add nothing: the count moves only when a deadline passes.
      await stderrLine(node, new RegExp(`look-up for "?laura"? unanswered \\(${i} of 4\\)`), from);
      await drainCopies(`${round}: look-up ${i}`);
    }
  };
  await exchange(joan, node.at, "PRjoan@bb.com", "RR0");
  await exchange(laura, node.at, "PRlaura@bb.com", "RR0");

  await unanswered("first", 3);
  // laura answers at last: her count starts again.
  await laura.send("RL1joan@bb.com:laura@bb.com", node.at);
  assertDatagram(await joan.receive(), "RL1joan@bb.com:laura@bb.com", node.at);
  await unanswered("after an RL", 2);
  // A new registration starts it again too.
  await exchange(laura, node.at, "PRlaura@bb.com", "RR0");
  await unanswered("after a PR", 4);
  // The fifth unanswered one: the node answers RL3 itself and forwards nothing.
  await exchange(joan, node.at, lookup, "RL3joan@bb.com:laura@bb.com");
  await exchange(joan, node.at, lookup, "RL3joan@bb.com:laura@bb.com");
  deepStrictEqual(laura.pending, []);
});

/** A free UDP port on `ip` (bound and released: another process could take it in between). */
async function freePort(ip: string): Promise<number> {
  await using probe = UdpPeer.open("probe", ip);
  return probe.local.port;
}

Deno.test("two nodes carry the example exchange of the reference, and log it byte-exact", async () => {
  // Node PC-c on 127.0.0.2, node PC-d on 127.0.0.3, each knowing the other by a static map.
  const portC = await freePort("127.0.0.2");
  await using dirD = await NodeDir.create("PC-d", {
    "nodelumi.cfg": `domain = PC-d\n[domains]\nPC-c = 127.0.0.2:${portC}\n[users]\nu2\n`,
  });
  await using nodeD = await startNode(dirD, { listen: "127.0.0.3:0" });
  await using dirC = await NodeDir.create("PC-c", {
    "nodelumi.cfg": `domain = PC-c\n[domains]\npc-d = 127.0.0.3:${nodeD.at.port}\n[users]\nu1\n`,
  });
  await using nodeC = await startNode(dirC, { listen: `127.0.0.2:${portC}` });
  deepStrictEqual(nodeC.at, { ip: "127.0.0.2", port: portC });
  await using u1 = UdpPeer.open("agent u1");
  await using u2 = UdpPeer.open("agent u2");

  const lookup = "PLu1@PC-c:u2@PC-d";
  const found = "RL0u1@PC-c:u2@PC-d:10.100.100.102:43038";
  await exchange(u2, nodeD.at, "PRu2@PC-d", "RR0");
  await exchange(u1, nodeC.at, "PRu1@PC-c", "RR0");
  await u1.send(lookup, nodeC.at);
  assertDatagram(await u2.receive(), lookup, nodeD.at);
  await u2.send(found, nodeD.at);
  assertDatagram(await u1.receive(), found, nodeC.at);
  strictEqual(found.length, 39);
  await exchange(u1, nodeC.at, "PDu1@PC-c", "RD0");

  deepStrictEqual((await stop(nodeC)).code, 0);
  deepStrictEqual((await stop(nodeD)).code, 0);
  const a1 = ep(u1.local), a2 = ep(u2.local), c = ep(nodeC.at), d = ep(nodeD.at);
  deepStrictEqual(await logLines(dirC, "nodelumi-PC-c.log"), [
    LOG_OPEN_MARKER,
    `R: ${a1}, PRu1@PC-c, 9`,
    `E: ${a1}, RR0, 3`,
    `R: ${a1}, ${lookup}, 17`,
    `E: ${d}, ${lookup}, 17`,
    `R: ${d}, ${found}, 39`,
    `E: ${a1}, ${found}, 39`,
    `R: ${a1}, PDu1@PC-c, 9`,
    `E: ${a1}, RD0, 3`,
    LOG_CLOSE_MARKER,
    "",
  ]);
  deepStrictEqual(await logLines(dirD, "nodelumi-PC-d.log"), [
    LOG_OPEN_MARKER,
    `R: ${a2}, PRu2@PC-d, 9`,
    `E: ${a2}, RR0, 3`,
    `R: ${c}, ${lookup}, 17`,
    `E: ${a2}, ${lookup}, 17`,
    `R: ${a2}, ${found}, 39`,
    `E: ${c}, ${found}, 39`,
    LOG_CLOSE_MARKER,
    "",
  ]);
  strictEqual(LOG_OPEN_MARKER, "------ INICI LOG ------");
  strictEqual(LOG_CLOSE_MARKER, "------ FINAL LOG ------");
});

/** The name and type asked in a DNS query. */
function question(query: Uint8Array): { name: string; type: number } {
  const labels: string[] = [];
  let at = 12;
  while (query[at]! > 0) {
    labels.push(new TextDecoder().decode(query.subarray(at + 1, at + 1 + query[at]!)));
    at += 1 + query[at]!;
  }
  return { name: labels.join(".").toLowerCase(), type: (query[at + 1]! << 8) | query[at + 2]! };
}

/** The query turned into its "no such name" (NXDOMAIN) answer. */
function nxdomain(query: Uint8Array): Uint8Array {
  const answer = query.slice();
  answer[2] = 0x81 | (query[2]! & 0x01); // QR, opcode 0, RD as asked
  answer[3] = 0x83; // RA, RCODE 3
  return answer;
}

Deno.test("node answers RL2 at once for a domain that does not resolve", async () => {
  await using dns = UdpPeer.open("DNS server");
  await using dir = await NodeDir.create("nxdomain", { "nodelumi.cfg": "bb.com laura\n" });
  await using node = await startNode(dir, {
    args: ["--dns-server", `${dns.local.ip}:${dns.local.port}`],
  });
  await using laura = UdpPeer.open("laura");
  await exchange(laura, node.at, "PRlaura@bb.com", "RR0");
  const asked: string[] = [];
  const answering = (async () => {
    for (;;) {
      const query = await dns.receive(10_000).catch(() => null);
      if (!query) return;
      const { name, type } = question(query.bytes);
      asked.push(`${name} ${type}`);
      await dns.send(nxdomain(query.bytes), query.from);
    }
  })();
  const started = performance.now();
  await exchange(
    laura,
    node.at,
    "PLlaura@bb.com:x@Nowhere.invalid",
    "RL2laura@bb.com:x@Nowhere.invalid",
  );
  const took = performance.now() - started;
  ok(took < 900, `RL2 came after ${took.toFixed(0)} ms, later than an agent's first retry`);
  ok(asked.includes("nowhere.invalid 1"), `the A record was asked for; asked: ${asked}`);
  await stop(node);
  await dns[Symbol.asyncDispose]();
  await answering;
});

Deno.test("console through a pipe: add, del, list, help, unknown, exit; the file follows", async () => {
  await using dir = await NodeDir.create("console", { "nodelumi.cfg": "bb.com laura joan\n" });
  await using node = await startNode(dir);
  await using marta = UdpPeer.open("marta");

  await command(node, "help", /^Commands:$/);
  await node.child.waitFor(/^ {2}exit +stop the node/);
  await command(node, "frobnicate", /^Unknown command "frobnicate"\. Type "help" for the list\.$/);

  await command(node, "add marta", /^Added marta@bb\.com \(saved\)$/);
  strictEqual(await dir.read("nodelumi.cfg"), "bb.com\nlaura\njoan\nmarta\n");
  await exchange(marta, node.at, "PRmarta@bb.com", "RR0");

  await command(node, "del joan", /^Removed joan@bb\.com \(saved\)$/);
  strictEqual(await dir.read("nodelumi.cfg"), "bb.com\nlaura\nmarta\n");
  await command(node, "add laura", /^laura is already a user$/);
  await command(node, "del joan", /^joan is not a user$/);
  strictEqual(await dir.read("nodelumi.cfg"), "bb.com\nlaura\nmarta\n");

  const from = node.child.lines.length;
  await command(node, "list", /^2 users, 1 online$/);
  deepStrictEqual(node.child.lines.slice(from), [
    `  ${"laura@bb.com".padEnd(32)} offline`,
    `  ${"marta@bb.com".padEnd(32)} online  ${marta.local.ip}:${marta.local.port}`,
    "2 users, 1 online",
  ]);

  await node.child.send("exit");
  strictEqual((await node.child.exited()).code, 0);
  deepStrictEqual(node.child.lines.slice(-2), ["Stopping the node.", "LUMI node bb.com stopped"]);
  deepStrictEqual(await dir.files(), [
    "nodelumi-bb.com.db",
    "nodelumi-bb.com.log",
    "nodelumi-bb.com.state",
    "nodelumi.cfg",
  ]);
});

Deno.test("console changes to an INI file keep its other settings and comments", async () => {
  const ini = (users: string) =>
    `; bb.com's node\ndomain = bb.com ; ours\nstate = off\n\n[users]\n${users}\n` +
    `; other nodes\n[domains]\ncc.com = 127.0.0.3:3344\n\n[limits]\noffline-after = 5\n`;
  await using dir = await NodeDir.create("console-ini", {
    "nodelumi.cfg": ini("laura\njoan pere\n"),
  });
  await using node = await startNode(dir);
  await command(node, "add marta", /^Added marta@bb\.com \(saved\)$/);
  strictEqual(await dir.read("nodelumi.cfg"), ini("laura\njoan\npere\nmarta\n"));
  await command(node, "del laura pere", /^Removed laura@bb\.com, pere@bb\.com \(saved\)$/);
  strictEqual(await dir.read("nodelumi.cfg"), ini("joan\nmarta\n"));
  await node.child.send("quit");
  strictEqual((await node.child.exited()).code, 0);
});

Deno.test("a user added on the console survives kill -9", async () => {
  await using dir = await NodeDir.create("kill9", { "nodelumi.cfg": "bb.com laura\n" });
  {
    await using node = await startNode(dir);
    await command(node, "add marta", /^Added marta@bb\.com \(saved\)$/);
    const status = await stop(node, "SIGKILL");
    deepStrictEqual([status.success, status.signal], [false, "SIGKILL"]);
  }
  // No temporary file is left behind, and the new user can register.
  deepStrictEqual((await dir.files()).filter((f) => f.includes(".tmp")), []);
  strictEqual(await dir.read("nodelumi.cfg"), "bb.com\nlaura\nmarta\n");
  await using node = await startNode(dir);
  await node.child.waitFor(/\(2 users, 0 online restored\)$/);
  await using marta = UdpPeer.open("marta");
  await exchange(marta, node.at, "PRmarta@bb.com", "RR0");
});

Deno.test("registrations survive a clean restart; a corrupt state file stops the start", async () => {
  await using dir = await NodeDir.create("state", { "nodelumi.cfg": "bb.com laura joan\n" });
  await using laura = UdpPeer.open("laura");
  await using joan = UdpPeer.open("joan");
  {
    await using node = await startNode(dir);
    await exchange(laura, node.at, "PRlaura@bb.com", "RR0");
    strictEqual((await stop(node)).code, 0);
  }
  const state = JSON.parse(await dir.read("nodelumi-bb.com.state"));
  deepStrictEqual(state.online.map((entry: unknown[]) => entry.slice(0, 2)), [
    ["laura", `${laura.local.ip}:${laura.local.port}`],
  ]);
  {
    await using node = await startNode(dir);
    await node.child.waitFor(/\(2 users, 1 online restored\)$/);
    // laura did not register again, yet the look-up reaches her socket.
    await joan.send("PLjoan@bb.com:laura@bb.com", node.at);
    assertDatagram(await laura.receive(), "PLjoan@bb.com:laura@bb.com", node.at);
    strictEqual((await stop(node, "SIGINT")).code, 0);
  }

  await dir.write("nodelumi-bb.com.state", '{"version":1,"online":[["laura"');
  const child = await startProgram("node", ["--listen", "127.0.0.1:0"], { cwd: dir.path });
  const status = await child.exited();
  strictEqual(status.code, 2);
  deepStrictEqual(child.errors, [
    "The state file nodelumi-bb.com.state is corrupt (not JSON); move it away to start without it",
  ]);
  deepStrictEqual(child.lines, []);
});

Deno.test("a bad, missing or unreadable config file stops the start with exit code 2 and says why", async () => {
  await using dir = await NodeDir.create("badcfg", {
    "nodelumi.cfg": "domain = bb.com\n[users]\nlaura\nlaura\n",
    "other.cfg": "; two nodes\n[domains]\ncc.com = 127.0.0.3\n",
  });
  const run = async (args: string[]) => {
    const child = await startProgram("node", ["--listen", "127.0.0.1:0", ...args], {
      cwd: dir.path,
    });
    const status = await child.exited();
    return { code: status.code, stdout: child.lines, stderr: child.errors };
  };
  deepStrictEqual(await run([]), {
    code: 2,
    stdout: [],
    stderr: [`nodelumi.cfg: line 4: user "laura" is listed twice`],
  });
  deepStrictEqual(await run(["--config", "other.cfg"]), {
    code: 2,
    stdout: [],
    stderr: [`other.cfg: line 3: cc.com: "127.0.0.3" has no ":port" (expected IPv4:port)`],
  });
  deepStrictEqual(await run(["--config", "missing.cfg"]), {
    code: 2,
    stdout: [],
    stderr: ["Cannot read missing.cfg: the file does not exist"],
  });
  deepStrictEqual(await run(["--config", "/etc/hostname"]), {
    code: 2,
    stdout: [],
    stderr: ["Cannot read /etc/hostname: permission denied"],
  });
  // A bad flag is a usage error (64), before the file is read.
  deepStrictEqual(await run(["--listen", "127.0.0.1"]), {
    code: 64,
    stdout: [],
    stderr: [`--listen: "127.0.0.1" has no ":port" (expected IPv4:port)`, "Try --help."],
  });
  deepStrictEqual(await dir.files(), ["nodelumi.cfg", "other.cfg"]);
});

/** Packets a node must survive without answering, by what is wrong with them. */
const BAD_PACKETS: ReadonlyArray<[string, string | Uint8Array]> = [
  ["empty", ""],
  ["101 bytes (a PR that would get RR1)", `PRx@${"a".repeat(60)}.${"b".repeat(36)}`],
  ["64 KB", "PL".padEnd(65_507, "x@bb.com:")],
  ["unknown type XX", "XXlaura@bb.com"],
  ["unknown type PX", "PX"],
  ["lower-case type", "prlaura@bb.com"],
  ["one byte", "P"],
  ["truncated PR", "PR"],
  ["truncated PL", "PL"],
  ["PL with one address", "PLa@b"],
  ["PL with an empty callee", "PLlaura@bb.com:"],
  ["RL0 without port", "RL0a@b:c@d:1.2.3.4"],
  ["RL with code 5", "RL5laura@bb.com:joan@bb.com"],
  ["PR without @", "PRlaura"],
  ["PL without @", "PLlaura:joan"],
  ["PR with an empty name", "PR@bb.com"],
  ["PR with a newline", "PRlaura@bb.com\n"],
  ["PR in UTF-8", new TextEncoder().encode("PRlàura@bb.com")],
  ["binary", new Uint8Array([0x50, 0x52, 0x00, 0xff, 0x40, 0x80, 0x0a, 0x0d, 0x1b])],
  ["RR sent to the node", "RR0"],
  ["RD sent to the node", "RD1"],
  ["RL for no user of the domain", "RL1nobody@bb.com:laura@bb.com"],
];

Deno.test("node survives a table of bad packets, answers none, and reports them with --verbose", async () => {
  await using dir = await NodeDir.create("badinput", { "nodelumi.cfg": "bb.com laura\n" });
  await using node = await startNode(dir, { args: ["--verbose"] });
  await using agent = UdpPeer.open("agent");
  for (const [, packet] of BAD_PACKETS) await agent.send(packet, node.at);
  // The longest packet allowed (100 bytes) is served, then a valid PR: the answers to
  // these two must be the next datagrams, so none of the bad ones got an answer.
  const longest = `PRx@${"a".repeat(60)}.${"b".repeat(35)}`;
  strictEqual(longest.length, 100);
  await agent.send(longest, node.at);
  await agent.send("PRlaura@bb.com", node.at);
  assertDatagram(await agent.receive(), "RR1", node.at, "answer to the 100-byte PR");
  assertDatagram(await agent.receive(), "RR0", node.at, "answer to PRlaura@bb.com");
  await exchange(agent, node.at, "PDlaura@bb.com", "RD0");
  deepStrictEqual(agent.pending, []);

  strictEqual((await stop(node)).code, 0);
  const port = agent.local.port;
  const reports = node.child.errors.filter((line) =>
    new RegExp(`\\b(malformed|dropped)\\W+from\\W+127\\.0\\.0\\.1\\W+${port}\\b`).test(line)
  );
  strictEqual(
    reports.length,
    BAD_PACKETS.length,
    `one report per bad packet:\n${reports.join("\n")}`,
  );
  for (const reason of ["empty datagram", "exceeds the limit of 100", 'unknown packet type "XX"']) {
    ok(reports.some((line) => line.includes(reason)), `a report says ${reason}`);
  }
  // Every packet is in the log, the bad ones too.
  const log = await logLines(dir, "nodelumi-bb.com.log");
  strictEqual(
    log.filter((line) => line.startsWith(`R: 127.0.0.1:UDP:${port}, `)).length,
    BAD_PACKETS.length + 3,
  );
  ok(log.includes(`R: 127.0.0.1:UDP:${port}, , 0`), "the empty datagram is logged");
});

Deno.test("SIGINT and SIGTERM stop the node cleanly: exit 0, log closed, state saved", async (t) => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    await t.step(signal, async () => {
      await using dir = await NodeDir.create(signal, { "nodelumi.cfg": "bb.com laura\n" });
      await using node = await startNode(dir);
      await using laura = UdpPeer.open("laura");
      await exchange(laura, node.at, "PRlaura@bb.com", "RR0");
      const status = await stop(node, signal);
      deepStrictEqual([status.code, status.signal], [0, null]);
      strictEqual(node.child.lines.at(-1), "LUMI node bb.com stopped");
      const a = ep(laura.local);
      deepStrictEqual(await logLines(dir, "nodelumi-bb.com.log"), [
        LOG_OPEN_MARKER,
        `R: ${a}, PRlaura@bb.com, 14`,
        `E: ${a}, RR0, 3`,
        LOG_CLOSE_MARKER,
        "",
      ]);
      const state = JSON.parse(await dir.read("nodelumi-bb.com.state"));
      deepStrictEqual(state.online.map((entry: unknown[]) => entry.slice(0, 2)), [
        ["laura", `${laura.local.ip}:${laura.local.port}`],
      ]);
    });
  }
});

Deno.test("node keeps serving with stdin closed", async () => {
  await using dir = await NodeDir.create("service", { "nodelumi.cfg": "bb.com laura\n" });
  await using node = await startNode(dir, {
    stdin: false,
    args: ["--no-log", "--no-state", "--no-database"],
  });
  await using laura = UdpPeer.open("laura");
  await exchange(laura, node.at, "PRlaura@bb.com", "RR0");
  await exchange(laura, node.at, "PLlaura@bb.com:nobody@bb.com", "RL2laura@bb.com:nobody@bb.com");
  await exchange(laura, node.at, "PDlaura@bb.com", "RD0");
  strictEqual((await stop(node)).code, 0);
  deepStrictEqual(node.child.lines.slice(1), ["LUMI node bb.com stopped"]);
  deepStrictEqual(await dir.files(), ["nodelumi.cfg"]);
});
