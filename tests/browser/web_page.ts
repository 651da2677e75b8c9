/**
 * Run by `tests/web_test.ts` in a process of its own (the browser needs to
 * read `/usr/bin/chromium`, which the test task does not allow).
 *
 * The agent's web page (`--web`) in a real browser: two real agents on a
 * real node, Laura's driven through the page in chromium, Joan's through its
 * stdin. They chat both ways; Joan's presence changes live on the page;
 * Laura accepts Joan's group invitation from the page; the terminal and the
 * page stay in step; without the token nothing is served. Screenshots go to
 * tests/.tmp/web-screenshots/ for a person to look at (and, with
 * `LUMI_DOC_SCREENSHOTS=1`, the README's to docs/images/).
 *
 * @module
 */

import assert from "#assert";
import type { Page } from "#puppeteer";
import { AccountNode, startAgent } from "../support/account_node.ts";
import { Browser, screenshot, waitGone, waitText } from "../support/browser.ts";
import { projectRoot } from "../support/process.ts";
import { PtyProgram } from "../support/pty.ts";
import { terminalHtml } from "../support/terminal_shot.ts";

const READY = /^Type an address to call someone/;
const WEB = /^Web page: (http:\/\/\S+) \(the link holds its access token\)$/;
const docs = Deno.env.get("LUMI_DOC_SCREENSHOTS") === "1";
const docImage = (name: string) => docs ? `${projectRoot}docs/images/${name}` : undefined;

/** Type `text` in the page's input box and send it with Enter, as a person would. */
async function type(page: Page, text: string): Promise<void> {
  await page.focus("#input");
  await page.keyboard.type(text);
  await page.keyboard.press("Enter");
}

/** The value of `expression`, evaluated in the page. */
function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** The status line of a GET of `url` with the `Host` header `host` (fetch sets its own). */
async function rawGet(url: URL, host: string): Promise<string> {
  using conn = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const request = `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${host}\r\n` +
    "Connection: close\r\n\r\n";
  await conn.write(new TextEncoder().encode(request));
  const buffer = new Uint8Array(256);
  const n = await conn.read(buffer);
  return new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split("\r\n")[0]!;
}

Deno.test({
  name: "the web page: two agents chat both ways, presence changes live, an invitation accepted",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using node = await AccountNode.start({
      listen: "127.0.36.1:0",
      users: ["laura", "joan"],
      domain: "bb.test",
    });
    await using laura = await startAgent(node, "laura@bb.test", {
      args: ["--web", "127.0.36.2:0"],
    });
    await using joan = await startAgent(node, "joan@bb.test");
    const url = (await laura.waitFor(WEB))[1]!;
    await Promise.all([laura.waitFor(READY), joan.waitFor(READY)]);
    await using browser = await Browser.launch();
    const page = await browser.page();
    const response = await page.goto(url);
    assert.equal(response?.status(), 200);
    await waitText(page, "#status.on", "connected");

    // Presence, live: Joan a buddy (each on the other's list), then away, then back.
    await joan.send("/add laura@bb.test");
    await joan.waitFor(/^Added laura@bb\.test/);
    await type(page, "/add joan@bb.test");
    await waitText(page, "#buddies li.buddy.online", "joan@bb.test");
    await joan.send("/away lunch");
    await waitText(page, "#buddies li.buddy.busy", "joan@bb.test");
    await screenshot(page, "1-presence-busy");
    await joan.send("/back");
    await waitText(page, "#buddies li.buddy.online", "joan@bb.test");

    // A call from the page (the buddy's button), and lines both ways.
    await (await waitText(page, "#buddies li.buddy button", "joan@bb.test")).click();
    await joan.waitFor(/^Incoming call from laura \(laura@bb\.test\)/);
    await waitText(page, "#targets button[aria-current=true]", "joan@bb.test");
    await type(page, "hello from the page");
    await joan.waitFor(/laura: hello from the page$/);
    await waitText(page, "#lines li.own", "hello from the page");
    // Joan's agent acknowledged it (a receipt inside the encrypted channel): the page marks it.
    await page.waitForSelector("#lines li.own .mark.ok", { timeout: 10_000 });
    await joan.send("hi Laura, seen on a page");
    const hi = await waitText(page, "#lines li.chat", "hi Laura, seen on a page");
    assert.equal(await hi.$eval(".nick", (e) => e.textContent), "joan");
    // The conversation is encrypted (two LUMI agents), and the page says so.
    assert.match(
      await inPage<string>(page, `document.getElementById("protection").textContent`),
      /^encrypted/,
    );
    // The terminal and the page at once: a line typed on Laura's terminal shows on the page,
    await laura.send("typed on the terminal");
    await joan.waitFor(/laura: typed on the terminal$/);
    await waitText(page, "#lines li.own", "typed on the terminal");
    // and what the page shows, the terminal shows.
    await laura.waitFor(/joan: hi Laura, seen on a page$/);
    // The conversation's history (the agent's /history), from the button.
    await page.click("#history");
    await waitText(page, "#lines li.info", "you -> joan@bb.test: hello from the page");
    // A / command typed in the box runs as on the terminal.
    await type(page, "/whois joan@bb.test");
    await waitText(page, "#lines li.info", "presence:");
    // Joan's key was pinned at this first contact: /whois says so, with its fingerprint.
    await waitText(page, "#lines li.info", "encryption:   encrypted (key pinned; not verified");
    await screenshot(page, "2-chat");

    // Joan invites Laura to a group: Accept on the page.
    await joan.send("/group friends");
    await joan.send("/invite laura@bb.test");
    await waitText(page, "#invitations li.invitation", "#friends");
    await screenshot(page, "3-invitation");
    await (await waitText(page, "#invitations li.invitation button.accept", "Accept")).click();
    await laura.waitFor(/^You accepted the invitation to #friends$/);
    await waitGone(page, "#invitations li.invitation", "#friends");
    await waitText(page, "#targets button", "#friends");

    // Unread marks: looking at Joan's conversation, a group line marks #friends.
    await (await waitText(page, "#targets button.pick", "joan@bb.test")).click();
    await waitText(page, "#targets button[aria-current=true]", "joan@bb.test");
    await joan.send("hello group");
    await waitText(page, "#targets button.pick .badge", "1");
    const friendsLabel = await inPage<string>(
      page,
      `document.querySelector('#targets button.pick[data-label="#friends"]').getAttribute("aria-label")`,
    );
    assert.match(friendsLabel, /#friends, group, 1 unread/);
    await waitText(page, "#lines li.chat", "hello group", { hidden: true });
    assert.equal(
      await inPage<boolean>(
        page,
        `[...document.querySelectorAll("#lines li.chat")].find((e) => e.textContent.includes("hello group")).hidden`,
      ),
      true,
      "not shown in Joan's conversation",
    );
    await (await waitText(page, "#targets button.pick", "#friends")).click();
    await waitText(page, "#lines li.chat", "hello group");
    assert.equal(
      await inPage<number>(page, `document.querySelectorAll("#targets .badge").length`),
      0,
    );
    await type(page, "hi group, from the page");
    await joan.waitFor(/\[#friends\] laura: hi group, from the page$/);
    // A line in Joan's conversation while the group is shown: an unread mark.
    await joan.send("/switch laura@bb.test");
    await joan.waitFor(/^Typed lines now go to laura@bb\.test/);
    await joan.send("see you at the café at six?");
    await waitText(page, '#targets button.pick[data-label="joan@bb.test"] .badge', "1");
    await screenshot(page, "4-group");
    await (await waitText(page, "#targets button.pick", "joan@bb.test")).click();
    await waitText(page, "#lines li.chat", "see you at the café at six?");
    await screenshot(page, "5-conversation", docImage("web-page.png"));
    // Everything the agent said, notices included, in one view.
    await page.click("#everything");
    await waitText(page, "#lines li.info", "Registered laura@bb.test");
    await page.click("#everything");

    // The keyboard: Alt+Up goes to the previous conversation, as a person without a mouse would.
    await page.focus("#input");
    await page.keyboard.down("Alt");
    await page.keyboard.press("ArrowUp");
    await page.keyboard.up("Alt");
    await waitText(page, "#targets button[aria-current=true]", "#friends");
    assert.equal(await inPage(page, `document.getElementById("input").value`), "", "no recall");
    // Screen readers: the lines are a live log, the input box and every button have names.
    assert.deepEqual(
      await inPage(
        page,
        `[document.getElementById("lines").getAttribute("role"),
          document.getElementById("lines").getAttribute("aria-live"),
          document.querySelector("label[for=input]").textContent,
          [...document.querySelectorAll("button")].every((b) =>
            (b.getAttribute("aria-label") || b.textContent).trim() !== "")]`,
      ),
      ["log", "polite", "Message, or a /command", true],
    );

    // Joan leaves: offline, live.
    await joan.send("/quit");
    await joan.exited();
    await waitText(page, "#buddies li.buddy.offline", "joan@bb.test", { timeoutMs: 20_000 });
    assert.deepEqual(page.errors, []);
    await type(page, "/quit");
    await laura.waitFor(/^Bye\./);
    assert.equal((await laura.exited()).code, 0);
  },
});

Deno.test({
  name: "the web page and its WebSocket refuse a request without the token",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using node = await AccountNode.start({
      listen: "127.0.36.3:0",
      users: ["laura"],
      domain: "bb.test",
    });
    await using laura = await startAgent(node, "laura@bb.test", {
      args: ["--web", "127.0.36.4:0"],
    });
    const url = new URL((await laura.waitFor(WEB))[1]!);
    assert.equal(url.hostname, "127.0.36.4");
    await laura.waitFor(READY);
    const bare = `${url.origin}/`;
    const refused = await fetch(bare);
    assert.equal(refused.status, 403);
    assert.match(await refused.text(), /needs the link with its token/);
    const wrong = await fetch(`${bare}?token=${"0".repeat(64)}`);
    assert.equal(wrong.status, 403);
    await wrong.body?.cancel();
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.match(ok.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    await ok.body?.cancel();

    // Another site's page (its Origin), or another name of this address (DNS rebinding): refused.
    const foreign = await fetch(url, { headers: { origin: "http://evil.test" } });
    assert.equal(foreign.status, 403);
    await foreign.body?.cancel();
    assert.match(await rawGet(url, `evil.test:${url.port}`), /^HTTP\/1\.1 421 /);
    assert.match(await rawGet(url, url.host), /^HTTP\/1\.1 200 /);

    // The WebSocket without the token: refused before it opens.
    const socket = new WebSocket(`ws://${url.host}/ws`);
    const outcome = await new Promise<string>((resolve) => {
      socket.onopen = () => resolve("open");
      socket.onerror = () => resolve("refused");
      socket.onclose = () => resolve("refused");
    });
    assert.equal(outcome, "refused");
    // With it, the agent's lines so far come first.
    const good = new WebSocket(`ws://${url.host}/ws?token=${url.searchParams.get("token")}`);
    const hello = await new Promise<{ type: string; backlog: { text?: string }[] }>((resolve) => {
      good.onmessage = (m) => resolve(JSON.parse(m.data));
    });
    assert.equal(hello.type, "hello");
    assert.ok(hello.backlog.some((e) => e.text?.startsWith("Registered laura@bb.test")));
    const closed = new Promise((resolve) => (good.onclose = resolve));
    good.close();
    await closed;
    await laura.send("/quit");
    assert.equal((await laura.exited()).code, 0);
  },
});

Deno.test({
  name: "the terminal client, pictured: times, nick colours, the status line, a group",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await using node = await AccountNode.start({
      listen: "127.0.36.5:0",
      users: ["laura", "joan"],
      domain: "bb.test",
    });
    await using joan = await startAgent(node, "joan@bb.test");
    await joan.waitFor(READY);
    await using laura = await PtyProgram.start("agent", [
      "--address",
      "laura@bb.test",
      "--nick",
      "Laura",
      "--node",
      node.address,
      "--no-log",
    ], { cwd: node.dir, env: { NO_COLOR: "" } });
    let raw = "";
    const shown = laura.child.onChunk;
    const decoder = new TextDecoder();
    laura.child.onChunk = (bytes) => {
      shown?.(bytes);
      raw += decoder.decode(bytes, { stream: true });
    };
    await laura.waitFor(/Type an address to call someone/);
    await laura.type("/call joan@bb.test\r");
    await joan.waitFor(/^Incoming call from Laura/);
    await laura.type("hello Joan, from a terminal\r");
    await joan.waitFor(/Laura: hello Joan, from a terminal$/);
    await joan.send("hi Laura! the page and the terminal show the same");
    await laura.waitFor(/hi Laura! the page and the terminal show the same/);
    await joan.send("/group friends");
    await joan.send("/invite laura@bb.test");
    await laura.waitFor(/invites you to group #friends/);
    await laura.type("/accept\r");
    await laura.waitFor(/You accepted the invitation to #friends/);
    await joan.waitFor(/joined|added/);
    await joan.send("welcome to #friends");
    await laura.waitFor(/welcome to #friends/);
    await laura.type("/switch #friends\r");
    await laura.waitFor(/Typed lines now go to #friends/);
    await laura.type("thanks!\r");
    await joan.waitFor(/\[#friends\] Laura: thanks!$/);
    await laura.type("a line being typed");
    await laura.waitFor(/a line being typed/);

    const html = await terminalHtml(raw, 80, 24);
    assert.match(html, /hello Joan, from a terminal/);
    assert.match(html, /#friends/);
    await using browser = await Browser.launch();
    const page = await browser.page(760, 500);
    await page.setContent(html);
    await screenshot(page, "6-terminal", docImage("terminal-client.png"));
    await laura.type("\x15/quit\r");
    assert.equal(await laura.exited(), 0);
  },
});
