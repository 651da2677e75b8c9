import assert from "#assert";
import { ManualClock } from "../../clock.ts";
import { Screen } from "./_screen.ts";
import { Activity } from "./activity.ts";
import { TerminalUi } from "./terminal_ui.ts";
import type { AgentUi } from "./ui.ts";

const lookup = { kind: "lookup", from: "laura@bb.test", to: "joan@bb.test" } as const;

Deno.test("a wait is named, counts the tries from the second on, and ends", async () => {
  const shown: Array<string | undefined> = [];
  const ui = { activity: (text: string | undefined) => shown.push(text) } as unknown as AgentUi;
  const activity = new Activity(ui);
  activity.attempt(lookup, 2, 5); // a heartbeat: no wait begun, nothing shown
  await activity.during("calling joan@bb.test", () => {
    activity.attempt(lookup, 1, 5);
    activity.attempt(lookup, 2, 5);
    return Promise.resolve();
  });
  assert.deepEqual(shown, ["calling joan@bb.test…", "calling joan@bb.test… try 2 of 5", undefined]);
});

function terminalWith(clock: ManualClock) {
  const screen = new Screen(60, 6);
  const ui = new TerminalUi({
    setRaw: () => {},
    input: new ReadableStream(),
    write: (text) => screen.write(text),
    columns: () => 60,
    color: false,
  }, { clock, now: () => new Date(2026, 0, 1, 9, 30) });
  ui.setIdentity("Laura");
  ui.setPrompt("Laura> ");
  return { ui, screen };
}

Deno.test("the terminal shows a wait on the status line only once it passes half a second", async () => {
  const clock = new ManualClock();
  const { ui, screen } = terminalWith(clock);
  ui.activity("calling joan@bb.test…");
  clock.advance(499);
  assert.deepEqual(await screen.text(), ["[Laura: no conversation]", "Laura> "]);
  clock.advance(1);
  assert.deepEqual(await screen.text(), [
    "[Laura: no conversation]  calling joan@bb.test…",
    "Laura> ",
  ]);
  ui.activity("calling joan@bb.test… try 2 of 5");
  assert.equal(
    (await screen.text())[0],
    "[Laura: no conversation]  calling joan@bb.test… try 2 of 5",
  );
  ui.activity(undefined);
  assert.deepEqual(await screen.text(), ["[Laura: no conversation]", "Laura> "]);
  ui.activity("asking the node…");
  ui.activity(undefined);
  clock.advance(1000);
  assert.deepEqual(await screen.text(), ["[Laura: no conversation]", "Laura> "]);
  ui.close();
  screen.dispose();
});
