import assert from "#assert";
import { ManualClock } from "../../clock.ts";
import { connPair, MemorySocket, readText, ScriptedUi, tick } from "../_testing.ts";
import { PlumiClient } from "../node/client.ts";
import { Conversation } from "./conversation.ts";
import { type IncomingCall, Switchboard } from "./switchboard.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

function setup() {
  const clock = new ManualClock();
  const ui = new ScriptedUi(false);
  const client = new PlumiClient({
    socket: new MemorySocket(),
    node: { ip: "127.0.0.1", port: 3344 },
    clock,
  });
  const switchboard = new Switchboard({
    address: "joan@bb.com",
    nick: "Joan",
    client,
    connect: () => Promise.reject(new Error("no calls in this test")),
    ui,
    clock,
    nickTimeoutMs: 10_000,
    connectTimeoutMs: 5_000,
    frameTimeoutMs: 5_000,
    maxQueuedBytes: 1024 * 1024,
    maxChats: 1,
    maxGroups: 0,
    maxGroupSize: 16,
    groupIdleMs: 45_000,
  });
  return { clock, ui, client, switchboard };
}

/** A caller whose nicknames were exchanged, as the reception hands it over. */
async function answered(clock: ManualClock) {
  const [ours, theirs] = connPair();
  const opening = Conversation.open({ conn: ours, role: "callee", nick: "Joan", clock });
  await theirs.write(bytes("N05Laura"));
  const conversation = await opening;
  assert.equal(await readText(theirs, 7), "N04Joan");
  let released = 0;
  const silent: string[] = [];
  const call: IncomingCall = {
    address: "laura@bb.com",
    announced: true,
    release: () => released++,
    pushedOut: () => false,
    endedSilent: (why) => silent.push(why),
  };
  return { conversation, theirs, call, released: () => released, silent };
}

Deno.test("a quiet caller handed over is shown, and counts towards --max-chats once a line passed", async () => {
  const { clock, ui, client, switchboard } = setup();
  const { conversation, theirs, call, released } = await answered(clock);
  switchboard.receive(conversation, call);
  await ui.waitFor(/^Incoming call from Laura \(laura@bb\.com\)$/);
  assert.equal(switchboard.busy, false);
  assert.equal(switchboard.talking, true);
  await theirs.write(bytes("L02hi"));
  await ui.waitFor(/^Laura: hi$/);
  assert.equal(switchboard.busy, true);
  assert.equal(released(), 1);
  await switchboard.close();
  assert.equal(await readText(theirs, 1), "");
  assert.equal(released(), 1);
  await client.close();
});

Deno.test("a caller never shown that hangs up is reported through the reception, not the terminal", async () => {
  const { clock, ui, client, switchboard } = setup();
  const { conversation, theirs, call, released, silent } = await answered(clock);
  switchboard.receive(conversation, { ...call, announced: false });
  theirs.close();
  for (let i = 0; i < 20 && silent.length === 0; i++) await tick();
  assert.deepEqual(silent, ["Laura closed the connection"]);
  assert.equal(released(), 1);
  assert.ok(!ui.output.some((line) => line.startsWith("Incoming call")));
  await switchboard.close();
  await client.close();
});

Deno.test("a conversation handed over after the switchboard closed is closed, and its slot given back", async () => {
  const { clock, ui, client, switchboard } = setup();
  await switchboard.close();
  const { conversation, theirs, call, released } = await answered(clock);
  switchboard.receive(conversation, call);
  assert.ok(!ui.output.some((line) => line.startsWith("Incoming call")));
  assert.equal(released(), 1);
  assert.equal(await readText(theirs, 1), "");
  await client.close();
});
