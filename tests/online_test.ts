/**
 * Who is online (`PO`), end to end: a real node process, original agents
 * coming and going (`PR`/`PD`) between the pages an extended agent asks for.
 * Paged by cursor (`c=`), every user online throughout is listed exactly
 * once and no name twice; paged by number (older agents), a quiet domain is
 * listed exactly once. See docs/PROTOCOL.md, "Who is online".
 *
 * @module
 */

import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import type { Endpoint } from "../lib/plumi/address.ts";
import { ExtAgent, parseReply, value, values } from "./support/ext_agent.ts";
import { startProgram, tempDir } from "./support/process.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const DOMAIN = "online.test";
const LISTENING = /listening on (\d+\.\d+\.\d+\.\d+):(\d+)/;

/** Names of varied length, so that pages hold different numbers of names. */
const name = (prefix: string, i: number) => `${prefix}${i}-${"x".repeat((i * 7) % 23)}`;
const STABLE = Array.from({ length: 150 }, (_, i) => name("s", i));
const CHURN = Array.from({ length: 100 }, (_, i) => name("c", i));
const WATCHER = "watcher";

async function startNode(): Promise<{ at: Endpoint } & AsyncDisposable> {
  const dir = await tempDir("online-");
  const config = [
    `domain = ${DOMAIN}`,
    "[limits]",
    "rate-limit = 0", // the test's own agents send faster than a stranger may
    "[users]",
    WATCHER,
    ...STABLE,
    ...CHURN,
  ];
  await Deno.writeTextFile(`${dir}/nodelumi.cfg`, config.join("\n") + "\n");
  const child = await startProgram("node", ["--listen", "127.0.0.1:0", "--no-state"], {
    cwd: dir,
    name: "node",
  });
  try {
    const match = await child.waitFor(LISTENING);
    return {
      at: { ip: match[1]!, port: Number(match[2]) },
      [Symbol.asyncDispose]: () => child[Symbol.asyncDispose](),
    };
  } catch (error) {
    await child[Symbol.asyncDispose]();
    throw error;
  }
}

/** Original agents (all on one socket): registers and deregisters users, knows who is online. */
class Crowd {
  readonly online = new Set<string>();
  constructor(readonly peer: UdpPeer, readonly node: Endpoint) {}

  async register(user: string): Promise<void> {
    assertEquals((await this.peer.request(`PR${user}@${DOMAIN}`, this.node)).text, "RR0", user);
    this.online.add(user);
  }

  async deregister(user: string): Promise<void> {
    assertEquals((await this.peer.request(`PD${user}@${DOMAIN}`, this.node)).text, "RD0", user);
    this.online.delete(user);
  }
}

/** Every page by cursor; `between` runs after each page. Returns the names in order and the page count. */
async function pageByCursor(
  watcher: ExtAgent,
  between: () => Promise<void> = async () => {},
): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined = "";
  let pages = 0;
  while (cursor !== undefined && pages < 1000) {
    const got = await watcher.peer.request(
      watcher.seal(`PO${watcher.address};c=${cursor}`),
      watcher.node,
    );
    assert(got.bytes.length <= 512, `page ${pages + 1}: ${got.bytes.length} bytes`);
    const reply = parseReply(got.text);
    assertEquals(reply.head, "RO0", got.text);
    const page = values(reply, "u");
    assert(page.length > 0 || pages === 0, `page ${pages + 1} is empty: ${got.text}`);
    names.push(...page);
    cursor = value(reply, "c");
    if (cursor !== undefined) assertEquals(cursor, page.at(-1), "the cursor is the last name");
    pages++;
    await between();
  }
  return { names, pages };
}

Deno.test("who is online by cursor lists every user online throughout exactly once while others come and go", async () => {
  await using node = await startNode();
  await using peer = UdpPeer.open("original agents");
  await using watcher = ExtAgent.open(`${WATCHER}@${DOMAIN}`, node.at);
  const crowd = new Crowd(peer, node.at);
  assertEquals((await watcher.hello()).head, "RR0");
  for (const user of STABLE) await crowd.register(user);
  for (const user of CHURN.slice(0, 50)) await crowd.register(user);

  // Between pages, four churners leave and four come (a deterministic walk over all of them).
  let step = 0;
  const everOnline = new Set([...crowd.online, WATCHER]);
  const churn = async () => {
    for (let i = 0; i < 4; i++) {
      const user = CHURN[(step * 37 + i * 11) % CHURN.length]!;
      if (crowd.online.has(user)) await crowd.deregister(user);
      else await crowd.register(user);
      everOnline.add(user);
    }
    step++;
  };
  const { names, pages } = await pageByCursor(watcher, churn);
  assert(pages >= 5, `${pages} pages`);
  assertEquals(new Set(names).size, names.length, "no name twice");
  assertEquals(names, names.toSorted(), "in name order");
  for (const user of [...STABLE, WATCHER]) {
    assertEquals(names.filter((n) => n === user).length, 1, `${user} listed once`);
  }
  for (const listed of names) assert(everOnline.has(listed), `${listed} was never online`);

  // Once the domain is quiet, one pass lists exactly who is online.
  const quiet = await pageByCursor(watcher);
  assertEquals(quiet.names, [...crowd.online, WATCHER].toSorted());
  assertEquals(peer.pending, []);
  assertEquals(watcher.peer.pending, []);
});

Deno.test("who is online by page number (older agents) lists a quiet domain exactly once, each page within 512 bytes", async () => {
  await using node = await startNode();
  await using peer = UdpPeer.open("original agents");
  await using watcher = ExtAgent.open(`${WATCHER}@${DOMAIN}`, node.at);
  const crowd = new Crowd(peer, node.at);
  assertEquals((await watcher.hello()).head, "RR0");
  for (const user of [...STABLE, ...CHURN]) await crowd.register(user);

  const first = await watcher.online();
  const seen: string[] = [];
  for (let page = 1; page <= first.pages; page++) {
    const got = await watcher.online(page);
    assertEquals([got.page, got.pages], [page, first.pages]);
    seen.push(...got.entries);
  }
  assert(first.pages >= 5, `${first.pages} pages`);
  assertEquals(seen, [...crowd.online, WATCHER].toSorted());
  // A page past the last is the last; a page number that is not a number is the first.
  assertEquals((await watcher.online(first.pages + 5)).page, first.pages);
  const odd = await watcher.request(watcher.seal(`PO${watcher.address};p=x`));
  assertEquals(value(odd, "p"), `1/${first.pages}`);
});
