import assert from "#assert";
import { ManualClock } from "../../clock.ts";
import { connPair, MemorySocket, readText, ScriptedUi } from "../_testing.ts";
import { Conversation } from "../chat/conversation.ts";
import { Switchboard } from "../chat/switchboard.ts";
import { PlumiClient } from "./client.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("a line its conversation can no longer take is handed to the offline fallback", async () => {
  const clock = new ManualClock();
  const ui = new ScriptedUi(false);
  const client = new PlumiClient({
    socket: new MemorySocket(),
    node: { ip: "127.0.0.1", port: 3344 },
    clock,
  });
  const left: [string, string][] = [];
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
    offline: (address, text) => {
      left.push([address, text]);
      return true;
    },
  });
  const [ours, theirs] = connPair();
  const opening = Conversation.open({ conn: ours, role: "callee", nick: "Joan", clock });
  await theirs.write(bytes("N05Laura"));
  const conversation = await opening;
  assert.equal(await readText(theirs, 7), "N04Joan");
  switchboard.receive(conversation, {
    address: "laura@bb.com",
    announced: true,
    release: () => {},
    pushedOut: () => false,
    endedSilent: () => {},
  });
  await ui.waitFor(/^Incoming call from Laura/);
  switchboard.switchTo("laura@bb.com");
  // The conversation has ended and the roster has not heard of it yet: the line is not lost.
  conversation.close();
  switchboard.send("are you still there?");
  assert.deepEqual(left, [["laura@bb.com", "are you still there?"]]);
  assert.ok(!ui.output.some((l) => /conversation is over/i.test(l)));
  await switchboard.close();
  await client.close();
});
