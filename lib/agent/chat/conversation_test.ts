import assert from "#assert";
import { ManualClock, systemClock } from "../../clock.ts";
import { connPair, readText, tick } from "../_testing.ts";
import { Conversation } from "./conversation.ts";
import { HandshakeError } from "../errors.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("the caller sends its nickname first and reads the callee's", async () => {
  const [ours, theirs] = connPair();
  const opening = Conversation.open({
    conn: ours,
    role: "caller",
    nick: "Laura",
    clock: systemClock,
  });
  assert.equal(await readText(theirs, 8), "N05Laura");
  await theirs.write(bytes("N04Joan"));
  const talk = await opening;
  assert.equal(talk.peerNick, "Joan");
  talk.close();
});

Deno.test("the callee reads the caller's nickname, then answers with its own", async () => {
  const [ours, theirs] = connPair();
  const opening = Conversation.open({
    conn: ours,
    role: "callee",
    nick: "Joan",
    clock: systemClock,
  });
  await theirs.write(bytes("N05Laura"));
  const talk = await opening;
  assert.equal(talk.peerNick, "Laura");
  assert.equal(await readText(theirs, 7), "N04Joan");
  talk.close();
});

Deno.test("frames arriving one byte at a time, and lines right after the nickname, are read", async () => {
  const [ours, theirs] = connPair();
  const opening = Conversation.open({
    conn: ours,
    role: "callee",
    nick: "Joan",
    clock: systemClock,
  });
  for (const byte of bytes("N05LauraL02hiL00")) {
    await theirs.write(new Uint8Array([byte]));
    await tick();
  }
  const talk = await opening;
  const lines: string[] = [];
  const ended = talk.run({ onLine: (text) => lines.push(text) });
  await tick();
  await theirs.close();
  assert.deepEqual(await ended, { reason: "peer-closed" });
  assert.deepEqual(lines, ["hi", ""]);
});

Deno.test("a peer that sends no nickname is dropped after the timeout", async () => {
  const clock = new ManualClock();
  const [ours] = connPair();
  const opening = Conversation.open({
    conn: ours,
    role: "callee",
    nick: "Joan",
    clock,
    nickTimeoutMs: 10_000,
  }).then(() => undefined, (e) => e);
  await tick();
  clock.advance(9_999);
  await tick();
  clock.advance(1);
  const error = await opening;
  assert.ok(error instanceof HandshakeError);
  assert.equal(error.message, "no nickname received within 10 s");
});

Deno.test("garbage, a line before the nickname, or an early close fail the handshake", async () => {
  for (
    const [sent, why] of [
      ["X99hello", /bad data instead of a nickname: Bad PMI stream at byte 0/],
      ["N9x", /bad data instead of a nickname: .*length digit/],
      ["L02hi", /a line before its nickname/],
      ["", /closed the connection before its nickname/],
    ] as const
  ) {
    const [ours, theirs] = connPair();
    const opening = Conversation.open({ conn: ours, role: "callee", nick: "J", clock: systemClock })
      .then(() => undefined, (e) => e);
    if (sent) await theirs.write(bytes(sent));
    theirs.close();
    const error = await opening;
    assert.ok(error instanceof HandshakeError, sent);
    assert.match(error.message, why);
  }
});

Deno.test("lines go out as L frames, long ones split at 99 bytes", async () => {
  const [ours, theirs] = connPair();
  const opening = Conversation.open({ conn: ours, role: "callee", nick: "J", clock: systemClock });
  await theirs.write(bytes("N01L"));
  const talk = await opening;
  await readText(theirs, 4);
  assert.ok(talk.send(""));
  assert.ok(talk.send("x".repeat(100)));
  assert.equal(await readText(theirs, 3 + 102 + 4), `L00L99${"x".repeat(99)}L01x`);
  talk.close();
});

Deno.test("a long line goes out cut between words, an emoji with joiners never split", async () => {
  const [ours, theirs] = connPair();
  const opening = Conversation.open({ conn: ours, role: "callee", nick: "J", clock: systemClock });
  await theirs.write(bytes("N01L"));
  const talk = await opening;
  await readText(theirs, 4);
  const family = "👨‍👩‍👧";
  const first = `${"word ".repeat(16)}${family}`; // 80 + 18 = 98 bytes
  assert.ok(talk.send(`${first} tail`));
  const expected = `L98${first}L04tail`;
  assert.equal(await readText(theirs, new TextEncoder().encode(expected).length), expected);
  talk.close();
});

Deno.test("bad data in the middle of a conversation ends it with an error, after the good lines", async () => {
  const [ours, theirs] = connPair();
  const opening = Conversation.open({ conn: ours, role: "callee", nick: "J", clock: systemClock });
  await theirs.write(bytes("N01L"));
  const talk = await opening;
  const lines: string[] = [];
  const ended = talk.run({ onLine: (text) => lines.push(text) });
  await theirs.write(bytes("L02okZ"));
  const end = await ended;
  assert.equal(end.reason, "error");
  assert.match(end.reason === "error" ? end.error.message : "", /unknown frame type "Z"/);
  assert.deepEqual(lines, ["ok"]);
});

Deno.test("closing our side ends the conversation as ours; a new nickname is reported", async () => {
  const [ours, theirs] = connPair();
  const opening = Conversation.open({ conn: ours, role: "callee", nick: "J", clock: systemClock });
  await theirs.write(bytes("N01L"));
  const talk = await opening;
  const nicks: string[] = [];
  const ended = talk.run({ onLine: () => {}, onNick: (nick) => nicks.push(nick) });
  await theirs.write(bytes("N05Laura"));
  await tick();
  talk.close();
  assert.deepEqual(await ended, { reason: "local" });
  assert.deepEqual(nicks, ["Laura"]);
  assert.equal(talk.peerNick, "Laura");
});
