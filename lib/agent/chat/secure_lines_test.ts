import assert from "#assert";
import { ManualClock, systemClock } from "../../clock.ts";
import { ChannelHandshake, conversationPrologue, newIdentity } from "../../crypto/mod.ts";
import type { SecureChannel } from "../../crypto/channel.ts";
import { connPair, tick } from "../_testing.ts";
import { PmiLink } from "./pmi_link.ts";
import { ReceiptBook } from "./receipts.ts";
import { type LineHandlers, type LineReceipts, SecureLines } from "./secure_lines.ts";
import type { Clock } from "../../clock.ts";

/** Two channels of one Noise handshake: Ana's and Bo's. */
async function channels(): Promise<[SecureChannel, SecureChannel]> {
  const prologue = conversationPrologue("Ana", "Bo");
  const ana = new ChannelHandshake({
    initiator: true,
    identity: newIdentity(),
    address: "ana@bb.com",
    prologue,
  });
  const bo = new ChannelHandshake({
    initiator: false,
    identity: newIdentity(),
    address: "bo@bb.com",
    prologue,
  });
  const one = await bo.receive(await ana.start());
  assert.equal(one.kind, "send");
  const two = await ana.receive(one.kind === "send" ? one.send : new Uint8Array());
  assert.equal(two.kind, "established");
  if (two.kind !== "established") throw new Error("no channel");
  const three = await bo.receive(two.send!);
  if (three.kind !== "established") throw new Error("no channel");
  return [two.channel, three.channel];
}

/** One side of a conversation: its lines, and what it was shown. */
class Side {
  readonly shown: string[] = [];
  readonly delivered: string[] = [];
  readonly lines: SecureLines;
  readonly link: PmiLink;
  readonly #reading: Promise<void>;

  constructor(link: PmiLink, channel: SecureChannel, receipts?: LineReceipts, read = true) {
    this.link = link;
    this.lines = new SecureLines(link, channel, receipts);
    const handlers: LineHandlers = {
      onLine: (text) => this.shown.push(text),
      onDelivered: (ids) => this.delivered.push(...ids),
    };
    this.#reading = read ? this.#read(handlers) : Promise.resolve();
  }

  async #read(handlers: LineHandlers): Promise<void> {
    try {
      for (;;) {
        const frame = await this.link.next();
        if (frame === null) return;
        const fault = this.lines.open(frame, handlers);
        if (fault) throw fault;
      }
    } catch {
      // the link ended
    }
  }

  async close(): Promise<void> {
    this.lines.close();
    this.link.close();
    await this.#reading;
  }
}

/** A conversation between Ana and Bo over a fresh channel, with the books given. */
async function talk(
  books: { ana?: ReceiptBook; bo?: ReceiptBook },
  options: { clock?: Clock; boReads?: boolean } = {},
): Promise<{ ana: Side; bo: Side; close: () => Promise<void> }> {
  const clock = options.clock ?? systemClock;
  const [anaConn, boConn] = connPair();
  const [anaChannel, boChannel] = await channels();
  const link = (conn: typeof anaConn) => new PmiLink({ conn, clock, extensionTypes: "HE" });
  const ana = new Side(
    link(anaConn),
    anaChannel,
    books.ana && { peer: books.ana.peer("bo@bb.com"), clock },
  );
  const bo = new Side(
    link(boConn),
    boChannel,
    books.bo && { peer: books.bo.peer("ana@bb.com"), clock },
    options.boReads ?? true,
  );
  return {
    ana,
    bo,
    close: async () => {
      await ana.close();
      await bo.close();
    },
  };
}

async function until(what: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !what(); i++) await tick();
  assert.ok(what(), "did not happen");
}

Deno.test("a line with an id is acknowledged, and its id named delivered", async () => {
  const books = { ana: new ReceiptBook(), bo: new ReceiptBook() };
  const { ana, bo, close } = await talk(books);
  assert.ok(ana.lines.carriesIds);
  ana.lines.send("hello", "00000000000000aa");
  ana.lines.send("x".repeat(20_000), "00000000000000bb"); // two entries, one line id
  await until(() => ana.delivered.length === 2);
  assert.deepEqual(bo.shown, ["hello", "x".repeat(16_000), "x".repeat(4_000)]);
  assert.deepEqual(ana.delivered, ["00000000000000aa", "00000000000000bb"]);
  assert.equal(books.ana.peer("bo@bb.com").pending, 0);
  await close();
});

Deno.test("lines unacknowledged at a break go first in the next conversation; a duplicate is dropped", async () => {
  const books = { ana: new ReceiptBook(), bo: new ReceiptBook() };
  // Bo reads nothing: the lines never arrive.
  const first = await talk(books, { boReads: false });
  first.ana.lines.send("one", "0000000000000001");
  first.ana.lines.send("two", "0000000000000002");
  await tick();
  await first.close();
  assert.equal(books.ana.peer("bo@bb.com").pending, 2);

  const second = await talk(books);
  // A new line waits behind the two until Bo's hello.
  second.ana.lines.send("three", "0000000000000003");
  await until(() => second.ana.delivered.length === 3);
  assert.deepEqual(second.bo.shown, ["one", "two", "three"]);
  await second.close();

  // Receipts lost: Ana still holds "three", as if its receipt never came.
  books.ana.peer("bo@bb.com").keep({
    id: "0000000000000003",
    piece: new TextEncoder().encode("three"),
    lineId: "0000000000000003",
  });
  const third = await talk(books);
  third.ana.lines.send("four", "0000000000000004");
  await until(() => third.ana.delivered.length === 2);
  assert.deepEqual(third.bo.shown, ["four"], "three was seen: dropped");
  assert.equal(books.bo.peer("ana@bb.com").duplicates, 1);
  await third.close();
});

Deno.test("a peer without receipts sees the lines; nothing waits for it, nothing is sent again", async () => {
  const clock = new ManualClock();
  const book = new ReceiptBook();
  const { ana, bo, close } = await talk({ ana: book }, { clock });
  ana.lines.send("hi", "00000000000000aa");
  await until(() => bo.shown.length === 1);
  assert.equal(book.peer("bo@bb.com").pending, 1);
  // No hello ever comes: after the wait, the line is given up and ids stop.
  clock.advance(5_000);
  assert.equal(book.peer("bo@bb.com").pending, 0);
  assert.ok(!ana.lines.carriesIds);
  ana.lines.send("again");
  await until(() => bo.shown.length === 2);
  assert.deepEqual(bo.shown, ["hi", "again"]);
  await close();
});
