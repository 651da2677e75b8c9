/**
 * End-to-end tests of the agent: real agent and node processes on loopback,
 * and peers built to the original protocol from bare sockets.
 */

import assert from "#assert";
import {
  advertisedEndpoint,
  groupEndpoint,
  lineFrames,
  OriginalAgent,
  RawPmi,
  ScriptedNode,
  startAgent,
  startNode,
} from "./support/agent_peers.ts";
import { startDnsServer } from "./support/dns_server.ts";
import { startProgram, tempDir } from "./support/process.ts";

/** What our agent sends first: an extended, padded PR (an original node reads only the address). */
/** The agent's first PR: its session key for this log-in (43 characters), then padding to 100. */
const FIRST_PR = /^PRlaura@bb\.com;v=2;k=[\w-]{43};x=-{33}$/;
/** The same, as a packet log shows it (the key hidden), with its length on the wire. */
const FIRST_PR_LOGGED = `PRlaura@bb.com;v=2;k=(redacted);x=${"-".repeat(33)}, 100`;

/** Lines of 0, 1, 99, 100 and 1,000 bytes, each made of its own letter so a mix-up shows. */
const SIZED_LINES = ["", "a", "b".repeat(99), "c".repeat(100), "d".repeat(1000)];
/** Lines our agent sends when typed: an empty line sends nothing (issue 19; it used to send `L00`). */
const TYPED_LINES = SIZED_LINES.filter((line) => line !== "");

/** How an agent shows `lines` from `nick`: one output line per L frame, as the original. */
function shownLines(nick: string, lines: readonly string[]): string[] {
  return lines.flatMap((line) => {
    if (line === "") return [`${nick}: `];
    const pieces = [];
    for (let i = 0; i < line.length; i += 99) pieces.push(`${nick}: ${line.slice(i, i + 99)}`);
    return pieces;
  });
}

Deno.test("agents on one node", async (t) => {
  const dir = await tempDir("agents-");
  const started = await startNode(dir, "bb.com", ["laura", "joan", "pere", "anna"]);
  await using _node = started.process;
  const nodeAt = started.endpoint;
  // One conversation at a time, as the original agent: a second caller is told "busy".
  const single = ["--max-chats", "1"];
  const [laura, joan, pere] = await Promise.all([
    startAgent(dir, "laura@bb.com", "Laura", nodeAt, single),
    startAgent(dir, "joan@bb.com", "Joan", nodeAt, single),
    startAgent(dir, "pere@bb.com", "Pere", nodeAt, single),
  ]);
  await using _laura = laura;
  await using _joan = joan;
  await using _pere = pere;

  await t.step("two agents chat both ways with nicknames shown", async () => {
    await laura.send("joan@bb.com");
    await laura.waitFor(/^Calling joan@bb\.com…$/);
    await laura.waitFor(/^Connected to Joan \(joan@bb\.com\)$/);
    await joan.waitFor(/^Incoming call from Laura \(laura@bb\.com\)$/);
    await laura.send("hello joan");
    await joan.waitFor(/^Laura: hello joan$/);
    await joan.send("hi laura, ça va?");
    await laura.waitFor(/^Joan: hi laura, ça va\?$/);
  });

  await t.step("a third agent calling either of them is told they are busy", async () => {
    await pere.send("laura@bb.com");
    await pere.waitFor(/^laura@bb\.com is busy$/);
    await laura.waitFor(/^pere@bb\.com tried to call you \(answered busy\)$/);
    await pere.send("/call joan@bb.com");
    await pere.waitFor(/^joan@bb\.com is busy$/);
  });

  await t.step(
    "lines of 1, 99, 100 and 1,000 bytes arrive intact, both ways; an empty one sends nothing",
    async () => {
      // Between two of our agents the conversation is encrypted: a line travels whole.
      const expected = TYPED_LINES.map((line) => `Laura: ${line}`);
      const from = joan.lines.length;
      for (const line of SIZED_LINES) await laura.send(line);
      await joan.waitFor(new RegExp(`^${expected.at(-1)}$`), { from });
      assert.deepEqual(joan.lines.slice(from).filter((l) => l.startsWith("Laura: ")), expected);

      const back = laura.lines.length;
      await joan.send("e".repeat(1000));
      await laura.waitFor(/^Joan: e{1000}$/, { from: back });
      const pieces = laura.lines.slice(back).filter((l) => l.startsWith("Joan: "));
      assert.equal(pieces.map((l) => l.slice("Joan: ".length)).join(""), "e".repeat(1000));
    },
  );

  await t.step("/exit ends the conversation on both sides; both can be called again", async () => {
    await laura.send("/exit");
    await laura.waitFor(/^Conversation with Joan ended \(you left\)$/);
    await joan.waitFor(/^Conversation with Laura ended \(Laura closed the connection\)$/);
    const from = joan.lines.length;
    await pere.send("joan@bb.com");
    await pere.waitFor(/^Connected to Joan \(joan@bb\.com\)$/);
    await joan.waitFor(/^Incoming call from Pere \(pere@bb\.com\)$/, { from });
  });

  await t.step(
    "a peer that dies mid-conversation is reported; the agent keeps working",
    async () => {
      pere.kill("SIGKILL");
      await pere.exited();
      await joan.waitFor(/^Conversation with Pere ended \(Pere closed the connection\)$/);
      const from = laura.lines.length;
      await laura.send("joan@bb.com");
      await laura.waitFor(/^Connected to Joan \(joan@bb\.com\)$/, { from });
      await laura.send("still there?");
      await joan.waitFor(/^Laura: still there\?$/);
      await joan.send("/exit");
      await laura.waitFor(/^Conversation with Joan ended \(Joan closed the connection\)$/, {
        from,
      });
    },
  );

  await t.step("unknown and offline peers get the right message", async () => {
    await laura.send("bob@bb.com");
    await laura.waitFor(/^bob@bb\.com does not exist$/);
    await laura.send("anna@bb.com");
    await laura.waitFor(/^anna@bb\.com is offline$/);
    await laura.send("not an address");
    await laura.waitFor(/^Not in a conversation: type an address to call someone/);
  });

  await t.step("a user the node does not know cannot register (exit code 3)", async () => {
    await using bob = await startProgram(
      "agent",
      ["--address", "bob@bb.com", "--nick", "Bob", "--node", `${nodeAt.ip}:${nodeAt.port}`],
      { cwd: dir, name: "agent bob" },
    );
    const status = await bob.exited();
    assert.equal(status.code, 3);
    assert.deepEqual(bob.errors, [
      "Cannot register bob@bb.com: the node of bb.com does not know this user",
    ]);
  });

  await t.step("/quit deregisters: the node then reports the user offline", async () => {
    await joan.send("/quit");
    await joan.waitFor(/^Deregistered joan@bb\.com$/);
    assert.equal((await joan.exited()).code, 0);
    await laura.send("joan@bb.com");
    await laura.waitFor(/^joan@bb\.com is offline$/);
  });
});

Deno.test("a node that never answers: registration and calls give up after exactly five tries", async () => {
  const dir = await tempDir("silent-");
  await using silent = new ScriptedNode({ answerRegistrations: false });
  await using lookupsIgnored = new ScriptedNode();
  const started = Date.now();
  await using laura = await startProgram("agent", [
    "--address",
    "laura@bb.com",
    "--nick",
    "Laura",
    "--node",
    `127.0.0.1:${silent.endpoint.port}`,
  ], { cwd: dir, name: "agent laura" });
  await using joan = await startAgent(dir, "joan@bb.com", "Joan", lookupsIgnored.endpoint);
  await joan.send("laura@bb.com");

  const status = await laura.exited();
  assert.equal(status.code, 5);
  assert.deepEqual(laura.errors, [
    `Cannot register laura@bb.com with node 127.0.0.1:${silent.endpoint.port}: ` +
    "the node does not respond (5 tries)",
  ]);
  // Five tries of the same PR: one log-in, one key.
  assert.match(silent.texts[0] ?? "", FIRST_PR);
  assert.deepEqual(silent.texts, Array(5).fill(silent.texts[0]));
  assert.ok(Date.now() - started >= 4_000, "five tries one second apart");

  await joan.waitFor(/^Cannot call laura@bb\.com: the node does not respond \(5 tries\)$/);
  assert.deepEqual(
    lookupsIgnored.texts.filter((t) => t.startsWith("PLjoan@bb.com:laura")),
    Array(5).fill("PLjoan@bb.com:laura@bb.com"),
  );
  // The node was probed too (a look-up of nobody), and as it stayed silent, it is the one blamed.
  assert.ok(lookupsIgnored.texts.includes("PLjoan@bb.com:.lumi-probe@bb.com"));
});

Deno.test("deregistration: /quit, SIGTERM, SIGINT and the end of input each send a PD", async () => {
  const dir = await tempDir("dereg-");
  await using node = new ScriptedNode();
  const agents = await Promise.all(
    ["laura", "joan", "pere", "anna"].map((name) =>
      startAgent(dir, `${name}@bb.com`, name, node.endpoint)
    ),
  );
  const [laura, joan, pere, anna] = agents as [
    typeof agents[0],
    typeof agents[0],
    typeof agents[0],
    typeof agents[0],
  ];
  try {
    await laura.send("/quit");
    joan.kill("SIGTERM");
    pere.kill("SIGINT");
    await anna.closeStdin();
    for (const agent of agents) {
      assert.equal((await agent.exited()).code, 0, agent.name);
      await agent.waitFor(/^Deregistered \w+@bb\.com$/);
      await agent.waitFor(/^Bye\.$/);
    }
    for (const name of ["laura", "joan", "pere", "anna"]) {
      await node.waitFor(new RegExp(`^PD${name}@bb\\.com$`));
    }
    // Issue 19: the log is in the agent's data folder (support/process.ts), not the current one.
    const log = await Deno.readTextFile(`${dir}/data/laura@bb.com/lumi/logs/laura@bb.com.log`);
    const port = node.endpoint.port;
    assert.equal(
      log,
      [
        "------ INICI LOG ------",
        `E: 127.0.0.1:UDP:${port}, ${FIRST_PR_LOGGED}`,
        `R: 127.0.0.1:UDP:${port}, RR0, 3`,
        `E: 127.0.0.1:UDP:${port}, PDlaura@bb.com, 14`,
        `R: 127.0.0.1:UDP:${port}, RD0, 3`,
        "------ FINAL LOG ------",
        "",
      ].join("\n"),
    );
  } finally {
    for (const agent of agents) await agent[Symbol.asyncDispose]();
  }
});

Deno.test("malformed and unexpected datagrams are counted and ignored", async () => {
  const dir = await tempDir("garbage-udp-");
  await using node = new ScriptedNode();
  await using laura = await startAgent(dir, "laura@bb.com", "Laura", node.endpoint, ["--no-log"]);
  const advertised = await advertisedEndpoint(laura);
  const groups = await groupEndpoint(laura);
  const agentUdp = (await node.waitFor(FIRST_PR)).from;
  await node.udp.send("XX", agentUdp);
  await node.udp.send(new Uint8Array([0x50, 0x4c, 0xff, 0x00]), agentUdp);
  await node.udp.send("RR0", agentUdp);
  await node.udp.send("PLjoan@bb.com:laura@bb.com", agentUdp);
  const answer = await node.waitFor(/^RL/);
  // The agent's features follow the port: an original caller reads only IP and port.
  assert.equal(
    answer.text,
    `RL0joan@bb.com:laura@bb.com:${advertised.ip}:${advertised.port}:v=2:g=${groups.port}:e=1`,
  );
  assert.equal(advertised.ip, "127.0.0.1");
  await laura.send("/quit");
  assert.equal((await laura.exited()).code, 0);
  await laura.waitFor(/^Ignored 3 malformed or unexpected datagrams$/);
});

Deno.test("an original-protocol agent and ours call each other through our node, byte for byte", async (t) => {
  const dir = await tempDir("original-");
  const started = await startNode(dir, "bb.com", ["laura", "pere"]);
  await using _node = started.process;
  await using pere = new OriginalAgent("pere@bb.com");
  await pere.register(started.endpoint);
  await using laura = await startAgent(dir, "laura@bb.com", "Laura", started.endpoint);
  const lauraAt = await advertisedEndpoint(laura);
  const lauraGroups = await groupEndpoint(laura);

  await t.step("the original agent calls ours", async () => {
    assert.equal(
      await pere.lookup(started.endpoint, "laura@bb.com"),
      `RL0pere@bb.com:laura@bb.com:127.0.0.1:${lauraAt.port}:v=2:g=${lauraGroups.port}:e=1`,
    );
    await using pmi = await RawPmi.connect(lauraAt);
    await pmi.send("N04Pere");
    assert.equal(await pmi.read(8), "N05Laura");
    await laura.waitFor(/^Incoming call from Pere \(pere@bb\.com\)$/);

    const from = laura.lines.length;
    await pmi.send(SIZED_LINES.map(lineFrames).join(""));
    const expected = shownLines("Pere", SIZED_LINES);
    await laura.waitFor(new RegExp(`^${expected.at(-1)}$`), { from });
    assert.deepEqual(laura.lines.slice(from).filter((l) => l.startsWith("Pere: ")), expected);

    for (const line of SIZED_LINES) await laura.send(line);
    const frames = TYPED_LINES.map(lineFrames).join("");
    assert.equal(await pmi.read(frames.length), frames);

    await laura.send("/exit");
    await pmi.expectEnd();
    await laura.waitFor(/^Conversation with Pere ended \(you left\)$/);
  });

  await t.step("ours calls the original agent", async () => {
    const from = laura.lines.length;
    await laura.send("pere@bb.com");
    assert.equal(await pere.answerLookup(), "PLlaura@bb.com:pere@bb.com");
    await using pmi = await pere.accept();
    assert.equal(await pmi.read(8), "N05Laura");
    await pmi.send("N04Pere");
    await laura.waitFor(/^Connected to Pere \(pere@bb\.com\)$/, { from });
    await pmi.send("L05hello");
    await laura.waitFor(/^Pere: hello$/, { from });
    await laura.send("hi pere");
    assert.equal(await pmi.read(10), "L07hi pere");
    pmi.close();
    await laura.waitFor(/^Conversation with Pere ended \(Pere closed the connection\)$/, { from });
  });
});

Deno.test("a peer that sends nothing, garbage, or one byte at a time is reported; the agent keeps working", async (t) => {
  const dir = await tempDir("bad-peer-");
  const started = await startNode(dir, "bb.com", ["laura", "pere"]);
  await using _node = started.process;
  await using pere = new OriginalAgent("pere@bb.com");
  await pere.register(started.endpoint);
  await using laura = await startAgent(dir, "laura@bb.com", "Laura", started.endpoint, [
    "--nick-timeout",
    "1",
    "--max-chats",
    "1",
  ]);
  const lauraAt = await advertisedEndpoint(laura);

  await t.step("silence instead of a nickname", async () => {
    await using pmi = await RawPmi.connect(lauraAt);
    await laura.waitFor(
      /^Incoming connection from 127\.0\.0\.1:\d+ dropped: no nickname received within 1 s$/,
    );
    await pmi.expectEnd();
  });

  await t.step("garbage instead of a nickname", async () => {
    await using pmi = await RawPmi.connect(lauraAt);
    await pmi.send("X99garbage");
    await laura.waitFor(
      /dropped: bad data instead of a nickname: Bad PMI stream at byte 0: unknown frame type "X"$/,
    );
    await pmi.expectEnd();
  });

  await t.step("frames split into one-byte segments; a second caller is refused", async () => {
    await using pmi = await RawPmi.connect(lauraAt);
    await pmi.sendByteByByte("N04PereL05hello");
    assert.equal(await pmi.read(8), "N05Laura");
    await laura.waitFor(/^Incoming call from Pere$/);
    await laura.waitFor(/^Pere: hello$/);

    await using intruder = await RawPmi.connect(lauraAt);
    await intruder.expectEnd();
    await laura.waitFor(/^Refused a connection from 127\.0\.0\.1:\d+: already in a conversation$/);

    await pmi.send("L02okL9x");
    await laura.waitFor(/^Pere: ok$/);
    await laura.waitFor(
      /^Conversation with Pere ended \(bad data from Pere: Bad PMI stream at byte \d+: frame length digit is "x", not 0-9\)$/,
    );
    await pmi.expectEnd();
  });

  await t.step("after all that, a proper call still works", async () => {
    assert.match(await pere.lookup(started.endpoint, "laura@bb.com"), /^RL0/);
    await using pmi = await RawPmi.connect(lauraAt);
    await pmi.send("N04PereL04fine");
    assert.equal(await pmi.read(8), "N05Laura");
    await laura.waitFor(/^Pere: fine$/);
    await laura.send("good");
    assert.equal(await pmi.read(7), "L04good");
  });
});

Deno.test("flags: --help, and missing or bad flags with piped stdin exit with code 64", async () => {
  const dir = await tempDir("flags-");
  await using help = await startProgram("agent", ["--help"], { cwd: dir });
  assert.equal((await help.exited()).code, 0);
  assert.match(help.lines.join("\n"), /--address NAME@DOMAIN/);

  const cases: Array<[string[], RegExp]> = [
    [
      ["--address", "laura@bb.com"],
      /^Missing --nick: it is required when the input is not a terminal$/,
    ],
    [["--nick", "Laura"], /^Missing --address/],
    [["--nick", "L", "--address", "laura"], /^Bad address: "laura" is not an address/],
    [["--nick", "L", "--address", "l@bb.com", "--node", "bb.com"], /^Bad --node/],
    [["--bogus"], /^Unknown flag --bogus$/],
  ];
  await Promise.all(cases.map(async ([args, message]) => {
    await using agent = await startProgram("agent", args, { cwd: dir });
    assert.equal((await agent.exited()).code, 64, args.join(" "));
    assert.match(agent.errors[0] ?? "", message);
    assert.deepEqual(agent.errors.slice(1), ["Try --help."]);
  }));
});

Deno.test({
  name:
    "without --node, the node is the domain's DNS A record, port 3344; an unknown domain exits 4",
  // Binding 127.x.y.z needs the whole 127/8 on loopback, as Linux has.
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const dir = await tempDir("dns-");
    const random = () => 1 + Math.floor(Math.random() * 254);
    const nodeIp = `127.${random()}.${random()}.${random()}`;
    await using dns = await startDnsServer({ a: { "bb.test": nodeIp } });
    const started = await startNode(dir, "bb.test", ["laura"], `${nodeIp}:3344`);
    await using _node = started.process;
    const flags = ["--nick", "Laura", "--dns-server", `${dns.endpoint.ip}:${dns.endpoint.port}`];

    await using laura = await startProgram("agent", ["--address", "laura@bb.test", ...flags], {
      cwd: dir,
      name: "agent laura",
    });
    await laura.waitFor(/^Looking up the node of bb\.test…$/);
    await laura.waitFor(new RegExp(`^Registered laura@bb\\.test with node ${nodeIp}:3344$`));
    await laura.waitFor(/advertised as 127\.0\.0\.1:\d+$/);

    await using lost = await startProgram("agent", ["--address", "laura@nowhere.test", ...flags], {
      cwd: dir,
      name: "agent lost",
    });
    assert.equal((await lost.exited()).code, 4);
    assert.deepEqual(lost.errors, [
      "Cannot register laura@nowhere.test: domain nowhere.test not found: it has no _plumi._udp SRV record and no DNS address record",
    ]);
  },
});
