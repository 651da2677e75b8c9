/**
 * The web page's server on a real socket, without a browser: its bounds
 * (pages at once, message size), a typed line reaching the command loop,
 * and the `--web` flag's forms.
 *
 * @module
 */

import assert from "#assert";
import { parseFlags } from "../main_agent.ts";
import { DEFAULT_WEB } from "../lib/agent/options.ts";
import { UsageError } from "../lib/agent/errors.ts";
import { PlainUi } from "../lib/agent/terminal/ui.ts";
import { WEB_LIMITS, WebServer, WebUi } from "../lib/agent/web/mod.ts";

/** A page's socket, open (resolves) or refused (rejects). */
function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error("refused"));
  });
}

function closed(socket: WebSocket): Promise<CloseEvent> {
  return new Promise((resolve) => socket.addEventListener("close", resolve, { once: true }));
}

Deno.test("the web server: at most 8 pages, a too big message closes its page, a typed line reaches the command loop", async () => {
  const ui = new WebUi(new PlainUi({ input: null, write: () => {} }));
  await using server = WebServer.start({ at: { ip: "127.0.36.20", port: 0 }, ui });
  const ws = server.url.replace(/^http:\/\/([^/]+)\/\?/, "ws://$1/ws?");
  const pages = await Promise.all(
    Array.from({ length: WEB_LIMITS.maxClients }, () => connect(ws)),
  );
  assert.equal(server.clients, WEB_LIMITS.maxClients);
  await assert.rejects(connect(ws), /refused/);

  // A line typed on a page runs as if typed on the terminal.
  const line = ui.readLine();
  pages[0]!.send(JSON.stringify({ type: "line", text: "/list" }));
  assert.equal(await line, "/list");
  // Not a line: told, and the page stays.
  const answer = new Promise<string>((resolve) => (pages[1]!.onmessage = (m) => resolve(m.data)));
  pages[1]!.send("{");
  assert.deepEqual(JSON.parse(await answer), { type: "error", text: "not JSON" });

  // Past the size bound: that page is closed (1009), counted, and its place is free again.
  const ended = closed(pages[2]!);
  pages[2]!.send(JSON.stringify({ type: "line", text: "x".repeat(WEB_LIMITS.maxMessageBytes) }));
  assert.equal((await ended).code, 1009);
  assert.equal(server.dropped, 1);
  const again = await connect(ws);
  const all = [...pages.filter((_, i) => i !== 2), again];
  const gone = all.map(closed);
  await server.close();
  for (const event of await Promise.all(gone)) assert.equal(event.code, 1001);
});

Deno.test("a page that reads nothing is closed once its queue passes the bound; the others go on", async () => {
  const ui = new WebUi(new PlainUi({ input: null, write: () => {} }));
  await using server = WebServer.start({
    at: { ip: "127.0.36.20", port: 0 },
    ui,
    limits: { maxQueuedBytes: 256 * 1024 },
  });
  const url = new URL(server.url);
  // A page that opens the WebSocket by hand and then never reads.
  using stuck = await Deno.connect({ hostname: url.hostname, port: Number(url.port) });
  const handshake = `GET /ws${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  await stuck.write(new TextEncoder().encode(handshake));
  const head = new Uint8Array(512);
  const n = await stuck.read(head);
  assert.match(new TextDecoder().decode(head.subarray(0, n ?? 0)), /^HTTP\/1\.1 101 /);
  const reader = await connect(url.href.replace(/^http:\/\/([^/]+)\/\?/, "ws://$1/ws?"));
  let received = 0;
  reader.onmessage = () => received++;
  // Up to 64 MiB of lines, more than every buffer of the kernel holds, in bursts of 64 KiB
  // (well under the bound for the page that reads).
  const line = "x".repeat(8 * 1024);
  for (let i = 0; i < 8192 && server.dropped === 0; i++) {
    ui.info(line);
    if (i % 8 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(server.dropped, 1, "the stuck page was closed");
  assert.equal(server.clients, 1, "the reading page stays");
  assert.ok(received > 0);
  const gone = closed(reader);
  await server.close();
  await gone;
});

Deno.test("--web takes an optional address: alone the default, localhost, port 0, and a bad one refused", () => {
  const signal = new AbortController().signal;
  const web = (args: string[]) => {
    const invocation = parseFlags(args, signal);
    assert.equal(invocation.kind, "run");
    return invocation.kind === "run" ? invocation.options.web : undefined;
  };
  assert.deepEqual(web(["--web"]), DEFAULT_WEB);
  assert.deepEqual(web(["--web", "--nick", "Laura"]), DEFAULT_WEB);
  assert.deepEqual(web(["--web", "true"]), DEFAULT_WEB);
  assert.deepEqual(web(["--web", "localhost:9000"]), { ip: "127.0.0.1", port: 9000 });
  assert.deepEqual(web(["--web=127.0.36.21:0"]), { ip: "127.0.36.21", port: 0 });
  assert.equal(web([]), undefined);
  assert.throws(() => web(["--web", "example.test"]), UsageError);
});
