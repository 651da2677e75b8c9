import assert from "#assert";
import { parseBuddyEntry } from "./extended_client.ts";
import { changesSince } from "./presence.ts";

Deno.test("buddy entries are read with and without change counts; the address comes last", () => {
  assert.deepEqual(parseBuddyEntry("on,10.0.0.7,4000,joan@cc.com", false), {
    address: "joan@cc.com",
    state: "on",
    endpoint: { ip: "10.0.0.7", port: 4000 },
  });
  assert.deepEqual(parseBuddyEntry("on,10.0.0.7,4000,7,on.off.on,j,o@cc.com", true), {
    address: "j,o@cc.com",
    state: "on",
    endpoint: { ip: "10.0.0.7", port: 4000 },
    seq: 7,
    trail: ["on", "off", "on"],
  });
  assert.deepEqual(parseBuddyEntry("?,,,,,pere@bb.com", true), {
    address: "pere@bb.com",
    state: "?",
  });
  assert.deepEqual(parseBuddyEntry("weird,,,", false).state, "?");
});

Deno.test("changes since the last look: every step of the trail once, else a different state", () => {
  const on = { address: "j@b", state: "on" as const, seq: 5, trail: ["off", "on"] as const };
  // Left and came back: two lines.
  assert.deepEqual(changesSince(on, { ...on, seq: 7, trail: ["on", "off", "on"] }), [
    "off",
    "on",
  ]);
  // Nothing new.
  assert.deepEqual(changesSince(on, { ...on }), []);
  // More changes than the trail keeps: what it keeps, without repeating the last state seen.
  assert.deepEqual(changesSince(on, { ...on, seq: 20, trail: ["on", "busy", "on"] }), [
    "busy",
    "on",
  ]);
  // A restarted node counts from 0 again: the states are compared.
  assert.deepEqual(changesSince(on, { ...on, state: "off", seq: 1, trail: ["on", "off"] }), [
    "off",
  ]);
  // No counts (another domain, an older node): the states are compared.
  assert.deepEqual(changesSince({ address: "j@b", state: "?" }, { address: "j@b", state: "on" }), [
    "on",
  ]);
  assert.deepEqual(
    changesSince({ address: "j@b", state: "on" }, { address: "j@b", state: "on" }),
    [],
  );
});
