import assert from "#assert";
import { ManualClock } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import { formatPlumi } from "../plumi/codec.ts";
import { DepositExt, FetchExt, KeyExt } from "../plumi/extensions/mod.ts";
import type { ExtensionRequest, PlumiMessage } from "../plumi/messages.ts";
import { type Caller, MailboxService, partBytes } from "./mailbox.ts";
import { MailboxStore } from "./mailbox_store.ts";
import { MemoryDirectory } from "./memory_directory.ts";

const JOAN_AT: Endpoint = { ip: "192.0.2.7", port: 4000 };
const STRANGER: Endpoint = { ip: "198.51.100.9", port: 5000 };

function setup(settings = {}) {
  const clock = new ManualClock();
  const directory = new MemoryDirectory(["joan", "laura"]);
  const notices: PlumiMessage[] = [];
  const mailbox = new MailboxService({
    domain: "bb.com",
    store: MailboxStore.open(":memory:"),
    directory,
    isLocal: (d) => d.toLowerCase() === "bb.com",
    keyOf: (name) => name === "joan" ? "K".repeat(43) : undefined,
    notify: (_to, message) => notices.push(message),
    clock,
    now: () => clock.wallNow(),
    settings,
  });
  /** Handle `request` from `from`, as `who`'s session when the caller check is asked. */
  const handle = async (request: ExtensionRequest, from: Endpoint, who?: string) => {
    const caller: Caller = (address) => who && address.startsWith(`${who}@`) ? who : undefined;
    const answer = mailbox.handle(request, from, caller);
    clock.advance(0); // the commit at the next turn
    return (await answer)!;
  };
  return { clock, directory, mailbox, notices, handle };
}

function partOf(message: PlumiMessage) {
  const reply = message.kind === "ext-reply" ? FetchExt.decodeReply(message) : undefined;
  if (!reply?.ok || reply.value.kind !== "part") {
    throw new Error(`not a part: ${formatPlumi(message)}`);
  }
  return reply.value;
}

const deposit = (id: string, data = "AQIDBAUGBwgJ", part = { part: 1, parts: 1 }) =>
  DepositExt.encodeRequest({ recipient: "joan@bb.com", sender: "pere@cc.com", id, part, data });
const fetch = (extra: { ack?: readonly string[] } = {}) =>
  FetchExt.encodeRequest({ kind: "fetch", address: "joan@bb.com", ...extra });

Deno.test("a deposit is stored, fetched by its recipient only, and deleted by its acknowledgement", async () => {
  const { mailbox, handle } = setup();
  const held = await handle(deposit("00112233445566ff"), STRANGER);
  assert.equal(formatPlumi(held), "RM0;id=00112233445566ff;n=1/1");
  assert.equal(mailbox.stored.messages, 1);
  // A stranger (no session of joan's) neither reads nor deletes it.
  assert.equal(formatPlumi(await handle(fetch(), STRANGER)), "RF1;e=auth");
  assert.equal(
    formatPlumi(await handle(fetch({ ack: ["00112233445566ff"] }), STRANGER, "laura")),
    "RF1;e=auth",
  );
  assert.equal(mailbox.stored.messages, 1);
  const part = partOf(await handle(fetch(), JOAN_AT, "joan"));
  assert.equal(part.data, "AQIDBAUGBwgJ");
  assert.equal(part.sender, "pere@cc.com");
  assert.equal(
    formatPlumi(await handle(fetch({ ack: ["00112233445566ff"] }), JOAN_AT, "joan")),
    "RF2",
  );
  assert.equal(mailbox.stored.messages, 0);
  mailbox.close();
});

Deno.test("a message in several parts is stored only when whole, and a copy is answered again", async () => {
  const { mailbox, handle } = setup();
  const id = "00000000000000aa";
  assert.equal(
    formatPlumi(await handle(deposit(id, "AAAA", { part: 2, parts: 2 }), STRANGER)),
    `RM0;id=${id};n=2/2`.replace("2/2", "2/2"),
  );
  assert.equal(mailbox.stored.messages, 0);
  await handle(deposit(id, "BBBB", { part: 1, parts: 2 }), STRANGER);
  assert.equal(mailbox.stored.messages, 1);
  // The last part again (its answer was lost): the same answer, nothing stored twice.
  assert.equal(
    formatPlumi(await handle(deposit(id, "AAAA", { part: 2, parts: 2 }), STRANGER)),
    `RM0;id=${id};n=2/2`,
  );
  assert.equal(mailbox.stored.messages, 1);
  assert.equal(partOf(await handle(fetch(), JOAN_AT, "joan")).data, "BBBBAAAA");
  mailbox.close();
});

Deno.test("the bounds refuse with their codes: full, quota, big; a local sender needs its session", async () => {
  const { mailbox, handle } = setup({ maxPerRecipient: 2, maxPerSender: 1, maxMessageBytes: 200 });
  await handle(deposit("0000000000000001"), STRANGER);
  assert.equal(
    formatPlumi(await handle(deposit("0000000000000002"), STRANGER)),
    "RM1;id=0000000000000002;e=quota",
  );
  await handle(deposit("0000000000000003"), { ip: "198.51.100.10", port: 1 });
  assert.equal(
    formatPlumi(await handle(deposit("0000000000000004"), { ip: "198.51.100.11", port: 1 })),
    "RM1;id=0000000000000004;e=full",
  );
  const big = "A".repeat(300);
  const { mailbox: m2, handle: h2 } = setup({ maxMessageBytes: 200 });
  assert.equal(
    formatPlumi(await h2(deposit("0000000000000005", big), STRANGER)),
    "RM1;id=0000000000000005;e=big",
  );
  const forged = DepositExt.encodeRequest({
    recipient: "joan@bb.com",
    sender: "laura@bb.com",
    id: "0000000000000006",
    part: { part: 1, parts: 1 },
    data: "AAAA",
  });
  assert.equal(formatPlumi(await h2(forged, STRANGER)), "RM1;id=0000000000000006;e=auth");
  assert.equal(formatPlumi(await h2(forged, JOAN_AT, "laura")), "RM0;id=0000000000000006;n=1/1");
  const nobody = DepositExt.encodeRequest({
    recipient: "nobody@bb.com",
    sender: "pere@cc.com",
    id: "0000000000000007",
    part: { part: 1, parts: 1 },
    data: "AAAA",
  });
  assert.equal(formatPlumi(await h2(nobody, STRANGER)), "RM1;id=0000000000000007;e=user");
  assert.deepEqual(mailbox.counters.refused, { quota: 1, full: 1 });
  mailbox.close();
  m2.close();
});

Deno.test("messages past their time to live are not handed over, and are deleted by the sweep", async () => {
  const { clock, mailbox, handle } = setup({ ttlMs: 60_000 });
  await handle(deposit("0000000000000001"), STRANGER);
  clock.advance(121_000); // past its time to live, and past a sweep since
  assert.equal(formatPlumi(await handle(fetch(), JOAN_AT, "joan")), "RF2");
  assert.equal(mailbox.stored.messages, 0); // the sweep of the minute ran
  assert.equal(mailbox.counters.expired, 1);
  mailbox.close();
});

Deno.test("an online recipient is told at once; a key is vouched only for a bound account", async () => {
  const { directory, mailbox, notices, handle } = setup();
  directory.register("joan", JOAN_AT, 0, { token: "T", heartbeatMs: 30_000, busy: false });
  await handle(deposit("0000000000000001"), STRANGER);
  assert.deepEqual(notices.map(formatPlumi), ["PFjoan@bb.com;c=1"]);
  const key = (a: string) => handle(KeyExt.encodeRequest({ address: a }), STRANGER);
  assert.equal(formatPlumi(await key("joan@bb.com")), `RW0;ik=${"K".repeat(43)}`);
  assert.equal(formatPlumi(await key("laura@bb.com")), "RW2");
  assert.equal(formatPlumi(await key("joan@cc.com")), "RW2");
  // Never longer than the request (amplification rule).
  assert(
    formatPlumi(KeyExt.encodeRequest({ address: "joan@bb.com" })).length >=
      `RW0;ik=${"K".repeat(43)}`.length,
  );
  assert(partBytes("pere@cc.com") >= 300);
  mailbox.close();
});
