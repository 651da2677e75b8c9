import assert from "#assert";
import type { StreamConn } from "../transport/tcp.ts";
import {
  connPair,
  MemoryListener,
  MemorySink,
  MemorySocket,
  readText,
  ScriptedUi,
  tick,
} from "./_testing.ts";
import { runAgent } from "./agent.ts";
import { GaveUpError } from "./node/sign_in.ts";
import { RegistrationError, UsageError } from "./errors.ts";
import type { AgentOptions } from "./options.ts";
import { memoryKeyFiles } from "./chat/keyring.ts";
import { firstRegistration } from "./node/extended_client.ts";
import { formatPlumi } from "../plumi/codec.ts";
import { grantFor } from "../node/test_agent.ts";

const node = { ip: "127.0.0.1", port: 3344 };
const bytes = (text: string) => new TextEncoder().encode(text);

/** An agent wired to in-memory sockets; `answer` plays the node. */
function harness(
  ui: ScriptedUi,
  answer: (packet: string) => string | undefined,
  extra: Partial<AgentOptions> = {},
) {
  const socket = new MemorySocket();
  const listener = new MemoryListener(45000);
  const groupListener = new MemoryListener(45001);
  const sink = new MemorySink();
  const dialled: StreamConn[] = [];
  socket.onSend((text) => {
    const reply = answer(text);
    if (reply !== undefined) queueMicrotask(() => socket.deliver(reply, node));
  });
  const options: AgentOptions = {
    ui,
    node,
    openLog: () => Promise.resolve(sink),
    keyFiles: memoryKeyFiles(),
    retryIntervalMs: 50,
    transport: {
      bindUdp: () => socket,
      listenTcp: () => (listener.opened ? groupListener : listener.open()),
      connectTcp: () => {
        const [ours, theirs] = connPair();
        dialled.push(theirs);
        return Promise.resolve(ours);
      },
    },
    networkInterfaces: () => [],
    ...extra,
  };
  return { socket, listener, groupListener, sink, dialled, options };
}

function plainNode(packet: string): string | undefined {
  if (packet.startsWith("PR")) return "RR0";
  if (packet.startsWith("PD")) return "RD0";
  return undefined;
}

Deno.test("on a terminal, a missing nickname then address are asked for, in that order", async () => {
  const ui = new ScriptedUi(true);
  const { options, sink, socket } = harness(ui, plainNode);
  ui.type("Laura");
  ui.type("laura");
  ui.type("laura@bb.com");
  const running = runAgent(options);
  await ui.waitFor(/^Registered laura@bb\.com with node 127\.0\.0\.1:3344$/);
  ui.type("/quit");
  await running;
  assert.deepEqual(ui.questions, [
    "Nickname: ",
    "Address (name@domain): ",
    "Address (name@domain): ",
  ]);
  assert.ok(ui.output.some((line) => /"laura" is not an address/.test(line)));
  assert.ok(ui.output.includes("Deregistered laura@bb.com"));
  const [first, ...rest] = socket.sent.map((s) => s.text);
  // The first PR carries this log-in's own session key, then pads to 100 bytes.
  const key = first?.match(/;k=([\w-]{43});/)?.[1] ?? "";
  assert.equal(first, formatPlumi(firstRegistration("laura@bb.com", false, key)));
  assert.deepEqual(rest, ["PDlaura@bb.com"]);
  assert.match(
    sink.text,
    /^------ INICI LOG ------\nE: 127\.0\.0\.1:UDP:3344, PRlaura@bb\.com;v=2;k=\(redacted\);x=-+, 100\n/,
  );
  assert.ok(sink.text.endsWith("R: 127.0.0.1:UDP:3344, RD0, 3\n------ FINAL LOG ------\n"));
  assert.ok(ui.closed);
});

Deno.test("with piped input, a missing nickname is an error and nothing is opened", async () => {
  const ui = new ScriptedUi(false);
  const { options, socket } = harness(ui, plainNode);
  await assert.rejects(runAgent({ ...options, address: "laura@bb.com" }), (e: unknown) => {
    return e instanceof UsageError && /Missing --nick/.test(e.message);
  });
  assert.equal(socket.sent.length, 0);
});

Deno.test("with piped input, a refused registration is an error", async () => {
  const ui = new ScriptedUi(false);
  const { options } = harness(ui, (p) => p.startsWith("PR") ? "RR1" : undefined);
  await assert.rejects(
    runAgent({ ...options, address: "laura@bb.com", nick: "Laura" }),
    (e: unknown) =>
      e instanceof RegistrationError &&
      e.message === "Cannot register laura@bb.com: the node of bb.com does not know this user",
  );
});

Deno.test("on a terminal, a refused registration can be tried again, or given up (which fails)", async () => {
  const ui = new ScriptedUi(true);
  let refusals = 1;
  const { options } = harness(ui, (p) => {
    if (p.startsWith("PR")) return refusals-- > 0 ? "RR1" : "RR0";
    return plainNode(p);
  });
  const running = runAgent({ ...options, address: "laura@bb.com", nick: "Laura" });
  await ui.waitFor(/does not know this user/);
  ui.type("y");
  await ui.waitFor(/^Registered/);
  ui.end();
  await running;
  assert.deepEqual(ui.questions, ["Try again? [Y/n] "]);

  const ui2 = new ScriptedUi(true);
  const refusing = harness(ui2, (p) => p.startsWith("PR") ? "RR1" : undefined);
  const giving = runAgent({ ...refusing.options, address: "laura@bb.com", nick: "Laura" });
  await ui2.waitFor(/does not know this user/);
  ui2.type("n");
  // Leaving after a failure is not a success: the failure's error, marked as already shown.
  await assert.rejects(
    giving,
    (e: unknown) => e instanceof GaveUpError && e.cause instanceof RegistrationError,
  );
  assert.ok(!ui2.output.some((line) => line.startsWith("Registered")));
});

Deno.test("with --max-chats 1, look-ups get RL0 while free, RL1 while busy; the caller is named; a second connection is refused", async () => {
  const ui = new ScriptedUi(false);
  const { options, socket, listener } = harness(ui, plainNode);
  const running = runAgent({ ...options, address: "joan@bb.com", nick: "Joan", maxChats: 1 });
  await ui.waitFor(/^Registered/);

  socket.deliver("PLlaura@bb.com:joan@bb.com", node);
  await tick();
  assert.equal(
    socket.sent.at(-1)!.text,
    "RL0laura@bb.com:joan@bb.com:127.0.0.1:45000:v=2:g=45001:e=1",
  );

  const caller = listener.connect();
  await caller.write(bytes("N05Laura"));
  assert.equal(await readText(caller, 7), "N04Joan");
  await ui.waitFor(/^Incoming call from Laura \(laura@bb\.com\)$/);
  // Only a conversation where a line has passed counts: one that said nothing never makes us busy.
  await caller.write(bytes("L05helloL00"));
  await ui.waitFor(/^Laura: $/);

  socket.deliver("PLpere@bb.com:joan@bb.com", node);
  await tick();
  assert.equal(socket.sent.at(-1)!.text, "RL1pere@bb.com:joan@bb.com");
  await ui.waitFor(/^pere@bb\.com tried to call you \(answered busy\)$/);
  // The node probing whether this agent is alive gets its answer, and is not shown as a caller.
  socket.deliver("PL.lumi-probe@bb.com:joan@bb.com", node);
  await tick();
  assert.equal(socket.sent.at(-1)!.text, "RL1.lumi-probe@bb.com:joan@bb.com");
  assert.ok(!ui.output.some((line) => line.includes(".lumi-probe")));

  const intruder = listener.connect();
  assert.equal(await readText(intruder, 1), "");
  await ui.waitFor(/^Refused a connection from 127\.0\.0\.1:\d+: already in a conversation$/);

  ui.type("hi there");
  assert.equal(await readText(caller, 11), "L08hi there");
  caller.close();
  await ui.waitFor(/^Conversation with Laura ended \(Laura closed the connection\)$/);

  socket.deliver("PLpere@bb.com:joan@bb.com", node);
  await tick();
  assert.equal(
    socket.sent.at(-1)!.text,
    "RL0pere@bb.com:joan@bb.com:127.0.0.1:45000:v=2:g=45001:e=1",
  );
  ui.end();
  await running;
  assert.deepEqual(ui.output.filter((l) => l.startsWith("Laura:")), ["Laura: hello", "Laura: "]);
});

Deno.test("each look-up answer is explained: busy, does not exist, offline, silent node", async () => {
  const ui = new ScriptedUi(false);
  const { options, socket } = harness(ui, (p) => {
    const codes: Record<string, string> = {
      "PLlaura@bb.com:joan@bb.com": "RL1laura@bb.com:joan@bb.com",
      "PLlaura@bb.com:bob@bb.com": "RL2laura@bb.com:bob@bb.com",
      "PLlaura@bb.com:pere@bb.com": "RL3laura@bb.com:pere@bb.com",
    };
    return codes[p] ?? plainNode(p);
  });
  const running = runAgent({ ...options, address: "laura@bb.com", nick: "Laura" });
  for (const peer of ["joan@bb.com", "/call bob@bb.com", "pere@bb.com", "anna@cc.com"]) {
    ui.type(peer);
  }
  await ui.waitFor(/^Cannot call anna@cc\.com: the node does not respond \(5 tries\)$/);
  ui.end();
  await running;
  const outcomes = ui.output.filter((l) =>
    !/^(Calling|Listening|Registered|Type|Dereg|Bye|Identity)/.test(l)
  );
  assert.deepEqual(outcomes, [
    "joan@bb.com is busy",
    "bob@bb.com does not exist",
    "pere@bb.com is offline",
    "Cannot call anna@cc.com: the node does not respond (5 tries)",
  ]);
  assert.equal(socket.sent.filter((s) => s.text === "PLlaura@bb.com:anna@cc.com").length, 5);
});

/** A node where joan@bb.com is online at 127.0.0.9:4000. */
function joanOnline(p: string): string | undefined {
  if (p === "PLlaura@bb.com:joan@bb.com") return "RL0laura@bb.com:joan@bb.com:127.0.0.9:4000";
  return plainNode(p);
}

/** Laura calls joan@bb.com: the connection dialled, once Laura's nickname came on it. */
async function callJoan(ui: ScriptedUi, dialled: readonly StreamConn[]): Promise<StreamConn> {
  ui.type("joan@bb.com");
  while (dialled.length === 0) await tick();
  const joan = dialled[0]!;
  assert.equal(await readText(joan, 8), "N05Laura");
  return joan;
}

Deno.test("a call that finds the peer connects, sends N first, and shows the peer's lines", async () => {
  const ui = new ScriptedUi(false);
  const { options, dialled } = harness(ui, joanOnline);
  const running = runAgent({ ...options, address: "laura@bb.com", nick: "Laura" });
  const joan = await callJoan(ui, dialled);
  await joan.write(bytes("N04JoanL02hi"));
  await ui.waitFor(/^Connected to Joan \(joan@bb\.com\)$/);
  await ui.waitFor(/^Joan: hi$/);
  ui.type("/exit");
  await ui.waitFor(/^Conversation with Joan ended \(you left\)$/);
  assert.equal(await readText(joan, 1), "");
  ui.end();
  await running;
});

Deno.test("aborting the signal ends the conversation and deregisters", async () => {
  const ui = new ScriptedUi(false);
  const controller = new AbortController();
  const { options, socket, listener } = harness(ui, plainNode);
  const running = runAgent({
    ...options,
    address: "joan@bb.com",
    nick: "Joan",
    signal: controller.signal,
  });
  await ui.waitFor(/^Registered/);
  // A real caller looks us up through the node first (a stranger that did not is shown only once it talks).
  socket.deliver("PLlaura@bb.com:joan@bb.com", node);
  await tick();
  const caller = listener.connect();
  await caller.write(bytes("N05Laura"));
  await ui.waitFor(/^Incoming call from Laura \(laura@bb\.com\)$/);
  controller.abort();
  await running;
  assert.ok(ui.output.includes("Conversation with Laura ended (you left)"));
  assert.equal(socket.sent.at(-1)!.text, "PDjoan@bb.com");
  assert.ok(ui.output.includes("Deregistered joan@bb.com"));
});

Deno.test("aborting while a call is connecting stops at once and deregisters", async () => {
  const ui = new ScriptedUi(false);
  const controller = new AbortController();
  const { options, socket } = harness(ui, joanOnline);
  let connecting = false;
  const running = runAgent({
    ...options,
    address: "laura@bb.com",
    nick: "Laura",
    signal: controller.signal,
    transport: {
      ...options.transport!,
      connectTcp: () => {
        connecting = true;
        return new Promise<never>(() => {});
      },
    },
  });
  ui.type("joan@bb.com");
  while (!connecting) await tick();
  controller.abort();
  await running;
  assert.equal(socket.sent.at(-1)!.text, "PDlaura@bb.com");
  assert.ok(!ui.output.some((line) => line.startsWith("Cannot call")));
});

Deno.test("a heartbeat without an answer says the node is lost at once; its next answer says it is back", async () => {
  const ui = new ScriptedUi(false);
  let silent = false;
  const { options } = harness(ui, (p) => {
    if (p.startsWith("PR")) return grantFor(p, "laura@bb.com");
    if (p.startsWith("PK")) return silent ? undefined : "RK0;c=1";
    if (p.startsWith("PS")) {
      return silent ? undefined : "RS0;p=1/1;h=1;b=on,10.0.0.7,4000,3,on,joan@bb.com";
    }
    if (p.startsWith("PD")) return "RD0;v=2";
    return undefined;
  });
  const running = runAgent({ ...options, address: "laura@bb.com", nick: "Laura" });
  await ui.waitFor(/^Type an address/);
  ui.type("/buddies");
  await ui.waitFor(/^joan@bb\.com\s+online\s+10\.0\.0\.7:4000$/);
  silent = true;
  await ui.waitFor(/^Lost contact with the node of bb\.com; retrying/);
  ui.type("/buddies");
  await ui.waitFor(/^joan@bb\.com\s+unknown$/);
  silent = false;
  await ui.waitFor(/^Back in contact with the node of bb\.com$/);
  ui.end();
  await running;
  assert.equal(ui.output.filter((l) => l.startsWith("Lost contact")).length, 1);
});

Deno.test("told by the node that another agent took the session over, the agent stops without PD", async () => {
  const ui = new ScriptedUi(false);
  const { options, socket } = harness(ui, (p) => {
    if (p.startsWith("PR")) return grantFor(p, "laura@bb.com");
    if (p.startsWith("PK")) return "RK1;e=replaced;at=127.0.0.1:41003";
    if (p.startsWith("PS")) return "RS0;p=1/1;h=1";
    return undefined;
  });
  const running = runAgent({ ...options, address: "laura@bb.com", nick: "Laura" });
  await assert.rejects(
    running,
    (e: unknown) => e instanceof GaveUpError && e.cause.name === "SignedInElsewhereError",
  );
  assert.ok(
    ui.output.includes(
      "laura@bb.com signed in from another place (127.0.0.1:41003): this agent stops",
    ),
  );
  assert.ok(!socket.sent.some((s) => s.text.startsWith("PD")), "no PD");
  assert.ok(!socket.sent.some((s) => /^PR.*replace/.test(s.text)), "never takes it back");
  assert.equal(socket.sent.filter((s) => s.text.startsWith("PR")).length, 1);
});

Deno.test("/me sends an action, an empty line sends nothing, /whois tells what is known", async () => {
  const ui = new ScriptedUi(false);
  const { options, dialled } = harness(ui, joanOnline);
  const running = runAgent({ ...options, address: "laura@bb.com", nick: "Laura" });
  const joan = await callJoan(ui, dialled);
  await joan.write(bytes("N04Joan"));
  await ui.waitFor(/^Connected to Joan \(joan@bb\.com\)$/);
  ui.type("");
  ui.type("   ");
  ui.type("/me waves");
  assert.equal(await readText(joan, 16), "L13* Laura waves");
  ui.type("/whois joan@bb.com");
  await ui.waitFor(/^ {2}conversation: joan@bb\.com, nickname Joan$/);
  await ui.waitFor(/^ {2}encryption: {3}no key pinned yet/);
  ui.type("/exit");
  await ui.waitFor(/^Conversation with Joan ended \(you left\)$/);
  ui.end();
  await running;
});

Deno.test("a line to a group with nobody else is flagged; leaving says so before where lines go now", async () => {
  const ui = new ScriptedUi(false);
  const { options } = harness(ui, plainNode);
  const running = runAgent({ ...options, address: "laura@bb.com", nick: "Laura" });
  ui.type("/group one");
  ui.type("anyone?");
  await ui.waitFor(/^Nobody else is in #one: the line reached nobody/);
  ui.type("/group two");
  ui.type("/list");
  ui.type("/leave");
  await ui.waitFor(/^Typed lines now go to #one$/);
  const left = ui.output.indexOf("You left #two");
  assert.ok(
    left >= 0 && left < ui.output.indexOf("Typed lines now go to #one"),
    ui.output.join("\n"),
  );
  ui.end();
  await running;
});

Deno.test("/nick changes the nickname the next conversations see", async () => {
  const ui = new ScriptedUi(false);
  const { options, dialled } = harness(ui, joanOnline);
  const running = runAgent({ ...options, address: "laura@bb.com", nick: "Laura" });
  ui.type("/nick Lau\x01");
  await ui.waitFor(/^Cannot change the nickname: the nickname contains control characters$/);
  ui.type("/nick Lau");
  await ui.waitFor(/^You are now known as Lau \(was Laura\)/);
  ui.type("joan@bb.com");
  while (dialled.length === 0) await tick();
  assert.equal(await readText(dialled[0]!, 6), "N03Lau");
  await dialled[0]!.write(bytes("N04Joan"));
  await ui.waitFor(/^Connected to Joan/);
  ui.end();
  await running;
});

Deno.test("/away makes the heartbeats say busy, so buddies see it; /back says online again", async () => {
  const ui = new ScriptedUi(false);
  const beats: string[] = [];
  const { options } = harness(ui, (p) => {
    if (p.startsWith("PR")) return grantFor(p, "laura@bb.com");
    if (p.startsWith("PK")) {
      beats.push(p);
      return "RK0;c=1";
    }
    if (p.startsWith("PS")) return "RS0;p=1/1;h=1";
    if (p.startsWith("PD")) return "RD0;v=2";
    return undefined;
  });
  const running = runAgent({ ...options, address: "laura@bb.com", nick: "Laura" });
  await ui.waitFor(/^Type an address/);
  while (beats.length === 0) await tick();
  assert.ok(!beats[0]!.includes("st=busy"));
  ui.type("/away lunch");
  await ui.waitFor(/^You are away \(lunch\)/);
  let seen = beats.length;
  while (beats.length === seen) await new Promise((r) => setTimeout(r, 50));
  assert.ok(beats.at(-1)!.includes("st=busy"), beats.at(-1));
  ui.type("/back");
  await ui.waitFor(/^You are back/);
  seen = beats.length;
  while (beats.length === seen) await new Promise((r) => setTimeout(r, 50));
  assert.ok(!beats.at(-1)!.includes("st=busy"), beats.at(-1));
  ui.end();
  await running;
});
