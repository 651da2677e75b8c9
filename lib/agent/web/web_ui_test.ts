import assert from "#assert";
import { PlainUi } from "../terminal/ui.ts";
import { MAX_WEB_LINES, WebUi } from "./web_ui.ts";
import type { AgentEvent } from "./events.ts";

/** A piped terminal whose lines the test types, one at a time. */
function pipedTerminal() {
  let push: (line: string) => void = () => {};
  let end: () => void = () => {};
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      push = (line) => controller.enqueue(new TextEncoder().encode(`${line}\n`));
      end = () => controller.close();
    },
  });
  const shown: string[] = [];
  const ui = new PlainUi({ input, write: (text) => shown.push(text) });
  return { ui, shown, push: (line: string) => push(line), end: () => end() };
}

Deno.test("lines typed on the terminal and on a page reach the command loop in the order typed, none lost", async () => {
  const terminal = pipedTerminal();
  const web = new WebUi(terminal.ui);
  const first = web.readLine();
  web.submit("from the page");
  assert.equal(await first, "from the page");
  // The terminal's read is still waiting: its line comes next, then the queued page lines.
  terminal.push("from the terminal");
  assert.equal(await web.readLine(), "from the terminal");
  web.submit("two");
  web.submit("three");
  assert.equal(await web.readLine(), "two");
  assert.equal(await web.readLine(), "three");
});

Deno.test("a question for a command from a page is not answered by the terminal's next line (a password is never taken as a chat line)", async () => {
  const terminal = pipedTerminal();
  const web = new WebUi(terminal.ui);
  const next = web.readLine();
  web.submit("/signup nuria@bb.test");
  assert.equal(await next, "/signup nuria@bb.test");
  assert.equal(await web.askSecret("Password for nuria@bb.test: "), null);
  terminal.push("secret");
  // The terminal's line is a command line, as it was typed as one.
  assert.equal(await web.readLine(), "secret");
  // Asked with no read waiting (before the command loop, or for a terminal's command): asked.
  const asked = web.ask("Nickname: ");
  terminal.push("Laura");
  assert.equal(await asked, "Laura");
});

Deno.test("the end of a piped input leaves the pages in charge; the page's lines are bounded", async () => {
  const terminal = pipedTerminal();
  const web = new WebUi(terminal.ui);
  terminal.end();
  const next = web.readLine();
  web.submit("/quit");
  assert.equal(await next, "/quit");
  for (let i = 0; i < MAX_WEB_LINES; i++) assert.equal(web.submit(`line ${i}`), true);
  assert.equal(web.submit("one too many"), false);
});

Deno.test("everything shown goes to the terminal and, as one event each, to the pages", () => {
  const terminal = pipedTerminal();
  const web = new WebUi(terminal.ui, { now: () => 1_000 });
  const events: AgentEvent[] = [];
  web.hub.subscribe((event) => events.push(event));
  web.info("Registered laura@bb.test");
  web.setTargets("joan@bb.test", ["joan@bb.test"]);
  web.chat("Joan", "hi", undefined, "joan@bb.test");
  web.own("Laura", "hello");
  web.info("\x1b[32monline\x1b[0m");
  web.ring(
    "Joan (joan@bb.test) invites you to group #friends: /accept or /decline (within 50 s)",
  );
  assert.deepEqual(terminal.shown, [
    "Registered laura@bb.test\n",
    "Joan: hi\n",
    "\x1b[32monline\x1b[0m\n",
  ]);
  assert.deepEqual(events.slice(0, 5), [
    { type: "line", kind: "info", at: 1_000, text: "Registered laura@bb.test" },
    { type: "targets", current: "joan@bb.test", labels: ["joan@bb.test"] },
    {
      type: "line",
      kind: "chat",
      at: 1_000,
      text: "hi",
      nick: "Joan",
      context: "joan@bb.test",
      address: "joan@bb.test",
    },
    { type: "line", kind: "own", at: 1_000, text: "hello", nick: "Laura", context: "joan@bb.test" },
    { type: "line", kind: "info", at: 1_000, text: "online" },
  ]);
  assert.equal(events[5]?.type === "ring" && events[5].invitation, "#friends");
  assert.equal(web.hub.backlog.length, 6);
});
