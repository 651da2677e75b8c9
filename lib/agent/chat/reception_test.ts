import assert from "#assert";
import { ManualClock } from "../../clock.ts";
import { ORIGINAL_PACE_MS } from "./pmi_link.ts";
import { MemoryListener, MemorySocket, readText, ScriptedUi, tick } from "../_testing.ts";
import { PlumiClient } from "../node/client.ts";
import { Reception } from "./reception.ts";
import { Switchboard } from "./switchboard.ts";

const node = { ip: "127.0.0.1", port: 3344 };
const bytes = (text: string) => new TextEncoder().encode(text);

function setup(limits: { maxChats?: number; maxPendingPerIp?: number } = {}) {
  const clock = new ManualClock();
  const socket = new MemorySocket();
  const ui = new ScriptedUi(false);
  const listener = new MemoryListener(45000);
  const route: { reception?: Reception } = {};
  const client = new PlumiClient({
    socket,
    node,
    clock,
    onLookup: (request, from) => route.reception?.handleLookup(request, from) ?? false,
  });
  const limitsOf = {
    clock,
    nickTimeoutMs: 10_000,
    frameTimeoutMs: 5_000,
    maxQueuedBytes: 1024 * 1024,
    maxChats: limits.maxChats ?? 8,
    maxGroupSize: 16,
  };
  const switchboard = new Switchboard({
    address: "joan@bb.com",
    nick: "Joan",
    client,
    connect: () => Promise.reject(new Error("no calls in this test")),
    ui,
    ...limitsOf,
    connectTimeoutMs: 5_000,
    maxGroups: 0,
    groupIdleMs: 45_000,
  });
  const reception = new Reception({
    address: "joan@bb.com",
    nick: "Joan",
    client,
    listener,
    advertised: { ip: "127.0.0.1", port: 45000 },
    switchboard,
    ui,
    ...limitsOf,
    maxPendingHandshakes: 32,
    maxPendingPerIp: limits.maxPendingPerIp ?? 8,
    refusalReportMs: 1_000,
  });
  route.reception = reception;
  client.start();
  reception.start();
  /** Stop accepting, then end the conversations, as the agent does. */
  const close = async () => {
    await reception.close();
    await switchboard.close();
  };
  /** The node forwards a look-up from `from`; the answer the agent sent. */
  const lookUp = async (from: string) => {
    socket.deliver(`PL${from}:joan@bb.com`, node);
    await tick();
    return socket.sent.at(-1)!.text;
  };
  return { clock, socket, ui, listener, switchboard, close, client, lookUp };
}

Deno.test("a caller that sends its nickname and then nothing never makes the agent busy; one that talks does", async () => {
  const { ui, listener, switchboard, close, client, lookUp } = setup({ maxChats: 1 });
  assert.match(await lookUp("laura@bb.com"), /^RL0/);
  const laura = listener.connect();
  await laura.write(bytes("N05Laura"));
  assert.equal(await readText(laura, 7), "N04Joan");
  await ui.waitFor(/^Incoming call from Laura \(laura@bb\.com\)$/);
  // Quiet: not busy, another caller is answered RL0.
  assert.equal(switchboard.busy, false);
  assert.match(await lookUp("pere@bb.com"), /^RL0/);
  // A line: now it is a conversation, and with --max-chats 1 the agent is busy.
  await laura.write(bytes("L02hi"));
  await ui.waitFor(/^Laura: hi$/);
  assert.equal(switchboard.busy, true);
  assert.match(await lookUp("anna@bb.com"), /^RL1/);
  await close();
  await client.close();
});

Deno.test("a line typed into a quiet conversation makes it count too", async () => {
  const { ui, listener, switchboard, close, client, lookUp, clock } = setup({ maxChats: 1 });
  await lookUp("laura@bb.com");
  const laura = listener.connect();
  await laura.write(bytes("N05Laura"));
  assert.equal(await readText(laura, 7), "N04Joan");
  await ui.waitFor(/^Incoming call from Laura/);
  switchboard.send("hello");
  clock.advance(ORIGINAL_PACE_MS); // the line keeps its distance from the nickname
  assert.equal(await readText(laura, 8), "L05hello");
  assert.equal(switchboard.busy, true);
  await close();
  await client.close();
});

Deno.test("callers nobody announced are shown only once they talk; quiet ones past the share are pushed out", async () => {
  const { ui, listener, close, client } = setup({ maxPendingPerIp: 2 });
  const quiet = [listener.connect(), listener.connect(), listener.connect()];
  for (const [i, conn] of quiet.entries()) {
    await conn.write(bytes(`N04Evi${i}`));
    assert.equal(await readText(conn, 7), "N04Joan");
  }
  // The third quiet caller from this IP pushed out the first.
  assert.equal(await readText(quiet[0]!, 1), "");
  await ui.waitFor(/^Refused a connection from 127\.0\.0\.1:\d+: Evi0 said nothing/);
  assert.ok(!ui.output.some((l) => l.startsWith("Incoming call")));
  await quiet[2]!.write(bytes("L05hello"));
  await ui.waitFor(/^Evi2: hello$/);
  assert.ok(ui.output.includes("Incoming call from Evi2"));
  await close();
  // Closing ended the quiet one never shown, too.
  assert.equal(await readText(quiet[1]!, 1), "");
  await client.close();
});

Deno.test("with another incoming conversation being set up, a caller is not named after a look-up", async () => {
  const { ui, listener, close, client, lookUp } = setup();
  await lookUp("laura@bb.com");
  const stranger = listener.connect(); // connected, nickname not sent yet
  await tick();
  const caller = listener.connect();
  await caller.write(bytes("N05Laura"));
  assert.equal(await readText(caller, 7), "N04Joan");
  await ui.waitFor(/^Incoming call from Laura$/);
  assert.ok(!ui.output.some((l) => l.includes("laura@bb.com")));
  stranger.close();
  await close();
  await client.close();
});
