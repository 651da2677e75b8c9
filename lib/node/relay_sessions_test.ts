import assert from "#assert";
import { ManualClock } from "../clock.ts";
import { RelaySessions } from "./relay_sessions.ts";

let counter = 0;
const keys = () => `key${++counter}`.padEnd(22, "x");

Deno.test("a session has one key per side, each good once; a stranger's key opens nothing", () => {
  const sessions = new RelaySessions(new ManualClock(), {}, keys);
  const offer = sessions.offer("a@d", "b@d");
  if (!offer.ok) throw new Error("refused");
  assert.ok(offer.fresh);
  const { caller, callee } = offer.session.keys;
  assert.notEqual(caller, callee);
  assert.deepEqual(sessions.join("made-up"), { ok: false, reason: "unknown-key" });
  const first = sessions.join(caller);
  assert.ok(first.ok && first.side === "caller");
  assert.deepEqual(sessions.join(caller), { ok: false, reason: "used-key" });
  const second = sessions.join(callee);
  assert.ok(second.ok && second.side === "callee");
});

Deno.test("a retransmitted request gets the same waiting session, not a second one", () => {
  const sessions = new RelaySessions(new ManualClock(), {}, keys);
  const one = sessions.offer("a@d", "b@d");
  const two = sessions.offer("a@d", "b@d");
  if (!one.ok || !two.ok) throw new Error("refused");
  assert.ok(!two.fresh);
  assert.equal(one.session, two.session);
  assert.equal(sessions.size, 1);
});

Deno.test("sessions in all and per user are bounded", () => {
  const sessions = new RelaySessions(new ManualClock(), { maxSessions: 3, perUser: 2 }, keys);
  assert.ok(sessions.offer("a@d", "b@d").ok);
  assert.ok(sessions.offer("a@d", "c@d").ok);
  // a takes part in two already: as caller or callee, a third is refused.
  assert.deepEqual(sessions.offer("a@d", "e@d"), { ok: false, reason: "full" });
  assert.deepEqual(sessions.offer("e@d", "a@d"), { ok: false, reason: "full" });
  assert.ok(sessions.offer("e@d", "f@d").ok);
  assert.deepEqual(sessions.offer("g@d", "h@d"), { ok: false, reason: "full" });
});

Deno.test("a session not joined by both within pairMs is forgotten and its keys void", () => {
  const clock = new ManualClock();
  const sessions = new RelaySessions(clock, { pairMs: 1_000 }, keys);
  const offer = sessions.offer("a@d", "b@d");
  if (!offer.ok) throw new Error("refused");
  assert.ok(sessions.join(offer.session.keys.caller).ok);
  clock.advance(999);
  assert.equal(sessions.expire().length, 0);
  clock.advance(1);
  assert.deepEqual(sessions.expire(), [offer.session]);
  assert.equal(sessions.size, 0);
  assert.deepEqual(sessions.join(offer.session.keys.callee), { ok: false, reason: "unknown-key" });
  // Its places are free again.
  assert.ok(sessions.offer("a@d", "b@d").ok);
});

Deno.test("bytes are counted against the budget; idle time runs from the last byte", () => {
  const clock = new ManualClock();
  const sessions = new RelaySessions(clock, { maxBytes: 2_000, idleMs: 500 }, keys);
  const offer = sessions.offer("a@d", "b@d");
  if (!offer.ok) throw new Error("refused");
  const s = offer.session;
  sessions.join(s.keys.caller);
  sessions.join(s.keys.callee);
  assert.equal(sessions.room(s, 1_500), 1_500);
  assert.ok(sessions.carry(s, 1_500));
  assert.equal(sessions.room(s, 1_500), 500);
  clock.advance(499);
  assert.ok(!sessions.idle(s));
  assert.ok(!sessions.carry(s, 600), "past the budget");
  clock.advance(499);
  assert.ok(!sessions.idle(s), "the last byte moved the idle clock");
  clock.advance(1);
  assert.ok(sessions.idle(s));
});
