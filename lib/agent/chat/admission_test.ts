import assert from "#assert";
import { ManualClock } from "../../clock.ts";
import { Admission } from "./admission.ts";

function gate(clock: ManualClock, printed: string[]) {
  return new Admission({
    maxPending: 3,
    maxPendingPerIp: 2,
    clock,
    reportMs: 1_000,
    print: (text) => printed.push(text),
    summary: (n) => `${n} more`,
  });
}

Deno.test("handshakes are admitted up to the limits, per IP and in all, and slots come back", () => {
  const printed: string[] = [];
  const admission = gate(new ManualClock(), printed);
  const a1 = admission.admit("10.0.0.1");
  const a2 = admission.admit("10.0.0.1");
  assert.equal(typeof a1, "function");
  assert.equal(typeof a2, "function");
  assert.equal(admission.admit("10.0.0.1"), "2 connections from 10.0.0.1 are being set up already");
  const b1 = admission.admit("10.0.0.2");
  assert.equal(typeof b1, "function");
  assert.equal(admission.admit("10.0.0.3"), "3 connections are being set up already");
  (a1 as () => void)();
  (a1 as () => void)(); // a second release changes nothing
  assert.equal(admission.pending, 2);
  assert.equal(typeof admission.admit("10.0.0.1"), "function");
  // A larger per-IP limit for one kind of connection (group links) still obeys the total.
  assert.equal(typeof admission.admit("10.0.0.1", 5), "string");
  (b1 as () => void)();
  assert.equal(typeof admission.admit("10.0.0.1", 5), "function");
});

Deno.test("a burst of refusals prints the first one, then one summary when the burst is over", () => {
  const clock = new ManualClock();
  const printed: string[] = [];
  const admission = gate(clock, printed);
  for (let i = 0; i < 500; i++) admission.refused(`refused ${i}`);
  assert.deepEqual(printed, ["refused 0"]);
  clock.advance(999);
  assert.deepEqual(printed, ["refused 0"]);
  clock.advance(1);
  assert.deepEqual(printed, ["refused 0", "499 more"]);
  clock.advance(5_000);
  admission.refused("later");
  assert.deepEqual(printed, ["refused 0", "499 more", "later"]);
  admission.refused("again");
  admission.close();
  assert.deepEqual(printed, ["refused 0", "499 more", "later", "1 more"]);
});

Deno.test("a full budget cuts the oldest handshake of the IP holding most, so a newcomer always gets a slot", () => {
  const admission = gate(new ManualClock(), []);
  const cut: string[] = [];
  const take = (ip: string, name: string) => admission.admit(ip, undefined, () => cut.push(name));
  assert.equal(typeof take("10.0.0.1", "a1"), "function");
  assert.equal(typeof take("10.0.0.2", "b1"), "function");
  assert.equal(typeof take("10.0.0.1", "a2"), "function");
  // Full (3): the caller from 10.0.0.3 gets the oldest slot of 10.0.0.1, which holds two.
  const c1 = take("10.0.0.3", "c1");
  assert.equal(typeof c1, "function");
  assert.deepEqual(cut, ["a1"]);
  assert.equal(admission.pending, 3);
  assert.equal(admission.evicted, 1);
  // 10.0.0.1 holds one slot (a2) and may take another; every IP holds one: the oldest goes…
  assert.equal(typeof take("10.0.0.1", "a3"), "function");
  assert.deepEqual(cut, ["a1", "b1"]);
  // …but never more than its share: a third one takes the place of its oldest.
  assert.equal(typeof take("10.0.0.1", "a4"), "function");
  assert.deepEqual(cut, ["a1", "b1", "a2"]);
  // A slot given back after it was cut changes nothing.
  (c1 as () => void)();
  assert.equal(admission.pending, 2);
});
