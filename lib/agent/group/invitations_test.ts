import assert from "#assert";
import { ManualClock } from "../../clock.ts";
import { ScriptedUi } from "../_testing.ts";
import { Invitations } from "./invitations.ts";

Deno.test("an invitation not answered in time is refused, and the user is told", async () => {
  const clock = new ManualClock();
  const ui = new ScriptedUi(false);
  const invitations = new Invitations(ui, clock, 5_000);
  const answer = invitations.ask("#club", "Ana", "ana@bb.test");
  assert.equal(invitations.size, 1);
  clock.advance(4_999);
  assert.equal(invitations.size, 1);
  clock.advance(1);
  assert.equal(await answer, "not accepted in time");
  assert.equal(invitations.size, 0);
  assert.deepEqual(ui.output, [
    "Ana (ana@bb.test) invites you to group #club: /accept or /decline (within 5 s)",
    "The invitation to #club expired (not accepted in time)",
  ]);
});

Deno.test("with several invitations waiting, /accept needs the group's name", async () => {
  const ui = new ScriptedUi(false);
  const invitations = new Invitations(ui, new ManualClock());
  const club = invitations.ask("#club", "Ana", "ana@bb.test");
  const band = invitations.ask("#band", "Bo", "bo@bb.test");
  invitations.accept(undefined);
  assert.equal(ui.output.at(-1), "Several invitations wait: /accept #club or /accept #band");
  invitations.accept("band");
  assert.equal(await band, undefined);
  invitations.decline(undefined);
  assert.equal(await club, "declined");
  assert.deepEqual(ui.output.slice(-2), [
    "You accepted the invitation to #band",
    "You declined the invitation to #club",
  ]);
});
