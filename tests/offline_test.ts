/**
 * Offline messages with real parts: two node processes of two domains
 * (aa.test on 127.0.34.1, bb.test on 127.0.35.1) found through a real DNS
 * server (SRV records), real agents, and raw datagrams for what an agent
 * would never send: a node killed (-9) while it holds messages, the bounds
 * of `[mailbox]`, and a stranger fetching or deleting someone's messages.
 */

import assert from "#assert";
import { createCredentials } from "../lib/auth.ts";
import { generateKeyPair } from "../lib/crypto/noise.ts";
import { newMessageId, seal } from "../lib/crypto/sealed.ts";
import { toBase64Url } from "../lib/auth.ts";
import { keyFromText } from "../lib/crypto/identity.ts";
import { DatabaseSync } from "node:sqlite";
import { AccountStore, APPLICATION_ID } from "../lib/node/store.ts";
import { MailboxStore } from "../lib/node/mailbox_store.ts";
import type { Endpoint } from "../lib/plumi/address.ts";
import { formatPlumi } from "../lib/plumi/codec.ts";
import { DepositExt, FetchExt, KeyExt } from "../lib/plumi/extensions/mod.ts";
import { type DnsServer, startDnsServer } from "./support/dns_server.ts";
import { type ChildProcess, startProgram, tempDir } from "./support/process.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const AA: Endpoint = { ip: "127.0.34.1", port: 4034 };
const BB: Endpoint = { ip: "127.0.35.1", port: 4035 };

/** A node process of `domain` at `listen`, with password accounts and `[mailbox]` lines. */
class MailNode implements AsyncDisposable {
  child!: ChildProcess;
  private constructor(
    readonly dir: string,
    readonly domain: string,
    readonly at: Endpoint,
  ) {}

  static async start(
    domain: string,
    at: Endpoint,
    dns: Endpoint,
    passwords: Record<string, string>,
    mailbox: readonly string[] = [],
  ): Promise<MailNode> {
    const dir = await tempDir(`offline-${domain}-`);
    await Deno.writeTextFile(
      `${dir}/nodelumi.cfg`,
      [
        `domain = ${domain}`,
        `listen = ${at.ip}:${at.port}`,
        "state = off",
        "log = off",
        `dns-server = ${dns.ip}:${dns.port}`,
        "[limits]",
        "heartbeat = 2",
        "[mailbox]",
        ...mailbox,
        "[users]",
        ...Object.keys(passwords),
        "",
      ].join("\n"),
    );
    {
      using store = AccountStore.open(`${dir}/nodelumi-${domain}.db`);
      for (const [name, password] of Object.entries(passwords)) {
        store.setPassword(name, await createCredentials(password, 1_000));
      }
    }
    const node = new MailNode(dir, domain, at);
    await node.startAgain();
    return node;
  }

  async startAgain(): Promise<void> {
    this.child = await startProgram("node", ["--no-log"], {
      cwd: this.dir,
      name: `node ${this.domain}`,
    });
    await this.child.waitFor(/^LUMI node \S+ listening on/);
  }

  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.child.exited();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.child[Symbol.asyncDispose]();
  }
}

interface Net extends AsyncDisposable {
  dns: DnsServer;
  aa: MailNode;
  bb: MailNode;
}

const PASSWORDS = { ana: "ana-pw", cy: "cy-pw", bo: "bo-pw" } as const;

async function network(mailboxBb: readonly string[] = []): Promise<Net> {
  const dns = await startDnsServer({
    a: { "node.aa.test": AA.ip, "node.bb.test": BB.ip },
    srv: [
      {
        name: "_plumi._udp.aa.test",
        target: "node.aa.test",
        port: AA.port,
        priority: 1,
        weight: 1,
      },
      {
        name: "_plumi._udp.bb.test",
        target: "node.bb.test",
        port: BB.port,
        priority: 1,
        weight: 1,
      },
    ],
  });
  const aa = await MailNode.start("aa.test", AA, dns.endpoint, {
    ana: PASSWORDS.ana,
    cy: PASSWORDS.cy,
  });
  const bb = await MailNode.start("bb.test", BB, dns.endpoint, { bo: PASSWORDS.bo }, mailboxBb);
  return {
    dns,
    aa,
    bb,
    async [Symbol.asyncDispose]() {
      await aa[Symbol.asyncDispose]();
      await bb[Symbol.asyncDispose]();
      await dns[Symbol.asyncDispose]();
    },
  };
}

/** A real agent of `address`, its node found through the DNS server; ready once its key is bound. */
async function agent(net: Net, address: string): Promise<ChildProcess> {
  const name = address.slice(0, address.indexOf("@"));
  const domain = address.slice(address.indexOf("@") + 1);
  const child = await startProgram("agent", [
    "--address",
    address,
    "--nick",
    name,
    "--dns-server",
    `${net.dns.endpoint.ip}:${net.dns.endpoint.port}`,
    "--no-log",
  ], {
    cwd: net.aa.dir,
    name: `agent ${address}`,
    env: { LUMI_PASSWORD: PASSWORDS[name as keyof typeof PASSWORDS] },
  });
  await child.waitFor(new RegExp(`^The node of ${domain.replace(".", "\\.")} vouches for your`));
  return child;
}

async function quit(child: ChildProcess): Promise<void> {
  await child.send("/quit");
  await child.exited();
}

/** What a node vouches for at `address`, asked as any stranger would. */
async function keyAt(peer: UdpPeer, node: Endpoint, address: string): Promise<Uint8Array> {
  const reply = await peer.request(formatPlumi(KeyExt.encodeRequest({ address })), node);
  const key = reply.text.match(/^RW0;ik=(\S+)$/)?.[1];
  assert.ok(key, `no key for ${address}: ${reply.text}`);
  return keyFromText(key!)!;
}

/** A sealed one-part deposit of `text` for `to`, from `from` (a stranger's key). */
async function sealedDeposit(to: string, toKey: Uint8Array, from: string, text: string) {
  const id = newMessageId();
  const sealed = await seal(generateKeyPair(), toKey, to, {
    kind: "text",
    id,
    sent: Date.now(),
    from,
    text,
  });
  const packet = formatPlumi(DepositExt.encodeRequest({
    recipient: to,
    sender: from,
    id,
    part: { part: 1, parts: 1 },
    data: toBase64Url(sealed),
  }));
  return { id, packet };
}

Deno.test("offline delivery across two domains: left, fetched at log-in, receipt to the sender", async () => {
  await using net = await network();
  // Bo logs in once, so that its node binds (and vouches for) its key, and leaves.
  await quit(await agent(net, "bo@bb.test"));
  await using ana = await agent(net, "ana@aa.test");
  await ana.send("/msg bo@bb.test hello across domains");
  const [, id] = await ana.waitFor(/^Left with the node of bo@bb\.test \(message ([0-9a-f]{16})\)/);
  // A long line travels in several datagrams each way (1,500 characters: 5 parts of 440).
  const long = Array.from({ length: 150 }, (_, i) => `word${i % 10}....`).join("").slice(0, 1_500);
  const from = ana.lines.length;
  await ana.send(`/msg bo@bb.test ${long}`);
  await ana.waitFor(/^Left with the node of bo@bb\.test/, { from });
  await using bo = await agent(net, "bo@bb.test");
  await bo.waitFor(/^\[offline\] ana@aa\.test \([^)]*\): hello across domains$/);
  await bo.waitFor(new RegExp(`^\\[offline\\] ana@aa\\.test \\([^)]*\\): ${long}$`));
  await ana.waitFor(new RegExp(`^✓ bo@bb\\.test received your message ${id}`));
  // Acknowledged: delivered once, and gone from the node.
  await quit(bo);
  await using again = await agent(net, "bo@bb.test");
  await again.send("/quit");
  await again.exited();
  assert.equal(again.lines.filter((l) => l.startsWith("[offline]")).length, 0);
});

Deno.test("a node killed (-9) while it holds messages loses none it acknowledged", async () => {
  await using net = await network();
  await quit(await agent(net, "cy@aa.test"));
  await using peer = UdpPeer.open("depositor", "127.0.34.20");
  const cyKey = await keyAt(peer, AA, "cy@aa.test");
  const deposits = await Promise.all(
    Array.from(
      { length: 120 },
      (_, i) => sealedDeposit("cy@aa.test", cyKey, "pere@bb.test", `line ${i}`),
    ),
  );
  // All sent at once; the node is killed once 40 answers are in, with the rest under way.
  for (const d of deposits) await peer.send(d.packet, AA);
  const acked = new Set<string>();
  while (acked.size < 40) {
    const m = (await peer.receive()).text.match(/^RM0;id=([0-9a-f]{16});n=1\/1$/);
    if (m) acked.add(m[1]!);
  }
  await net.aa.kill();
  for (const text of peer.pending) {
    const m = text.match(/^RM0;id=([0-9a-f]{16});n=1\/1$/);
    if (m) acked.add(m[1]!);
  }
  await net.aa.startAgain();
  await using cy = await agent(net, "cy@aa.test");
  assert.ok(acked.size >= 40);
  // Every acknowledged line is shown (and possibly some that were stored but not acknowledged).
  for (const d of deposits) {
    if (!acked.has(d.id)) continue;
    const n = deposits.indexOf(d);
    await cy.waitFor(new RegExp(`^\\[offline\\] pere@bb\\.test \\([^)]*\\).*: line ${n}$`), {
      timeoutMs: 20_000,
    });
  }
});

Deno.test("the bounds of [mailbox] refuse with their codes, and /msg says why", async () => {
  await using net = await network(["max-messages = 3", "max-per-sender = 2"]);
  await quit(await agent(net, "bo@bb.test"));
  await using one = UdpPeer.open("sender one", "127.0.35.20");
  await using two = UdpPeer.open("sender two", "127.0.35.21");
  const boKey = await keyAt(one, BB, "bo@bb.test");
  const send = async (peer: UdpPeer, n: number) =>
    (await peer.request(
      (await sealedDeposit("bo@bb.test", boKey, "x@cc.test", `m${n}`)).packet,
      BB,
    ))
      .text;
  assert.match(await send(one, 1), /^RM0;/);
  assert.match(await send(one, 2), /^RM0;/);
  assert.match(await send(one, 3), /^RM1;id=[0-9a-f]{16};e=quota$/); // the sender's share
  assert.match(await send(two, 4), /^RM0;/);
  assert.match(await send(two, 5), /^RM1;id=[0-9a-f]{16};e=full$/); // the recipient's bound
  // The bounds change with a reload.
  const cfg = `${net.bb.dir}/nodelumi.cfg`;
  await Deno.writeTextFile(
    cfg,
    (await Deno.readTextFile(cfg)).replace("max-messages = 3", "max-messages = 4"),
  );
  const from = net.bb.child.lines.length;
  await net.bb.child.send("reload");
  await net.bb.child.waitFor(/Applied: .*\[mailbox\]/, { from });
  assert.match(await send(two, 6), /^RM0;/);
  assert.match(await send(two, 7), /^RM1;id=[0-9a-f]{16};e=full$/);
  await using ana = await agent(net, "ana@aa.test");
  await ana.send("/msg bo@bb.test are you there");
  await ana.waitFor(/^Cannot leave a message for bo@bb\.test: its mailbox is full/);
});

Deno.test("a stranger can neither fetch nor delete someone's messages, nor send as a local user", async () => {
  await using net = await network();
  await quit(await agent(net, "cy@aa.test"));
  await using stranger = UdpPeer.open("stranger", "127.0.34.30");
  const cyKey = await keyAt(stranger, AA, "cy@aa.test");
  const d = await sealedDeposit("cy@aa.test", cyKey, "pere@bb.test", "for cy only");
  assert.match((await stranger.request(d.packet, AA)).text, /^RM0;/);
  // A seal the stranger made up is no session's.
  const fetch = (extra: { ack?: readonly string[] }) =>
    formatPlumi(FetchExt.encodeRequest({ kind: "fetch", address: "cy@aa.test", ...extra })) +
    ";q=1;m=AAAAAAAAAAAAAAAA";
  assert.equal((await stranger.request(fetch({}), AA)).text, "RF1;e=auth");
  assert.equal((await stranger.request(fetch({ ack: [d.id] }), AA)).text, "RF1;e=auth");
  // No seal at all is no session either.
  assert.equal((await stranger.request(`PFcy@aa.test;a=${d.id}`, AA)).text, "RF1;e=auth");
  // A deposit claiming a sender of the node's own domain needs that sender's session.
  const forged = await sealedDeposit("cy@aa.test", cyKey, "ana@aa.test", "I am ana");
  assert.match((await stranger.request(forged.packet, AA)).text, /^RM1;id=[0-9a-f]{16};e=auth$/);
  // Counted: the console's stats (and the metrics) say so.
  const from = net.aa.child.lines.length;
  await net.aa.child.send("stats");
  await net.aa.child.waitFor(/mailbox refused_auth\s+1$/, { from });
  await net.aa.child.waitFor(/mailbox stored\s+1$/, { from });
  // The message is still there for cy, and only it.
  await using cy = await agent(net, "cy@aa.test");
  await cy.waitFor(/^\[offline\] pere@bb\.test \([^)]*\).*: for cy only$/);
  assert.ok(!cy.lines.some((l) => l.includes("I am ana")));
});

Deno.test("/msg to a peer online and free goes through the normal conversation", async () => {
  await using net = await network();
  await using cy = await agent(net, "cy@aa.test");
  await using ana = await agent(net, "ana@aa.test");
  await ana.send("/msg cy@aa.test hello in person");
  await cy.waitFor(/^ana: hello in person$/);
  assert.ok(!ana.lines.some((l) => l.startsWith("Left with")));
});

Deno.test("a database of schema 1 gets the offline messages' table when opened", async () => {
  const dir = await tempDir("offline-migration-");
  const path = `${dir}/old.db`;
  const old = new DatabaseSync(path);
  old.exec(`
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    CREATE TABLE accounts (name TEXT PRIMARY KEY, signed_up INTEGER NOT NULL, salt BLOB,
      iterations INTEGER, stored_key BLOB, created_at INTEGER NOT NULL) STRICT;
    CREATE TABLE buddies (owner TEXT NOT NULL, buddy TEXT NOT NULL,
      PRIMARY KEY (owner, buddy)) STRICT, WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('schema', '1');
    INSERT INTO buddies (owner, buddy) VALUES ('ana', 'cy@aa.test');
    PRAGMA application_id = ${APPLICATION_ID};
  `);
  old.close();
  {
    using accounts = AccountStore.open(path);
    assert.deepEqual(accounts.buddies("ana"), ["cy@aa.test"]);
    using mailbox = MailboxStore.open(path);
    mailbox.insert({
      recipient: "ana",
      id: "0000000000000001",
      sender: "x@bb.test",
      quota: "ip:127.0.0.1",
      storedAt: 1,
      body: new Uint8Array([1, 2, 3]),
    });
    mailbox.commit();
  }
  const db = new DatabaseSync(path);
  const version = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as {
    value: string;
  };
  assert.equal(version.value, "2");
  assert.equal((db.prepare("SELECT count(*) AS n FROM mailbox").get() as { n: number }).n, 1);
  db.close();
});

Deno.test("a line claiming a sender whose node vouches for another key is not shown", async () => {
  await using net = await network();
  await quit(await agent(net, "ana@aa.test")); // ana's key is bound at aa.test
  await quit(await agent(net, "bo@bb.test"));
  await using forger = UdpPeer.open("forger", "127.0.35.30");
  const boKey = await keyAt(forger, BB, "bo@bb.test");
  // To bb.test, ana@aa.test is another domain's sender: the node cannot tell; bo's agent can.
  const forged = await sealedDeposit("bo@bb.test", boKey, "ana@aa.test", "send me your password");
  assert.match((await forger.request(forged.packet, BB)).text, /^RM0;/);
  await using bo = await agent(net, "bo@bb.test");
  await bo.waitFor(/^A message claiming to be from ana@aa\.test was sealed with a key its node/);
  assert.ok(!bo.lines.some((l) => l.includes("send me your password")));
});
