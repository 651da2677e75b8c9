/**
 * The service over a store that answers later (as `redis_mailbox.ts` does):
 * the deposit's `RM0` waits for the commit, a bound the store refuses at the
 * commit is answered with its code, a failing store is `e=store`, and a
 * clustered domain's notices are announced for the node that holds the
 * registration. The store here is the SQLite one behind promises.
 */

import assert from "#assert";
import { ManualClock } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import { formatPlumi } from "../plumi/codec.ts";
import { DepositExt, FetchExt } from "../plumi/extensions/mod.ts";
import type { PlumiMessage } from "../plumi/messages.ts";
import { MailboxService } from "./mailbox.ts";
import {
  type MailboxBound,
  MailboxStore,
  type MessageStore,
  type StoredMessage,
  type Usage,
} from "./mailbox_store.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import { StoreError } from "./store_error.ts";

const STRANGER: Endpoint = { ip: "198.51.100.9", port: 5000 };
const JOAN_AT: Endpoint = { ip: "192.0.2.7", port: 4000 };

/** The SQLite store, every answer later; its commit waits for `release`. */
class LaterStore implements MessageStore {
  readonly inner = MailboxStore.open(":memory:");
  gate = Promise.withResolvers<void>();
  inserted = Promise.withResolvers<void>();
  failing = false;
  refuse: MailboxBound | undefined;
  readonly #refused = new Map<StoredMessage, MailboxBound>();
  get total() {
    return this.inner.total;
  }
  get recipients() {
    return this.inner.recipients;
  }
  get dirty() {
    return this.inner.dirty;
  }
  #check() {
    if (this.failing) throw new StoreError("Redis is unreachable", { fault: "failed" });
  }
  async recipientUsage(r: string): Promise<Usage> {
    await Promise.resolve();
    this.#check();
    return this.inner.recipientUsage(r);
  }
  async shareUsage(q: string): Promise<Usage> {
    await Promise.resolve();
    this.#check();
    return this.inner.shareUsage(q);
  }
  async has(r: string, id: string) {
    await Promise.resolve();
    this.#check();
    return this.inner.has(r, id);
  }
  insert(message: StoredMessage) {
    if (this.refuse) this.#refused.set(message, this.refuse);
    else this.inner.insert(message);
    this.inserted.resolve();
  }
  async commit() {
    await this.gate.promise;
    this.#check();
    return this.inner.commit();
  }
  refusal(message: StoredMessage) {
    return this.#refused.get(message);
  }
  async get(r: string, since: number, id?: string, skip?: number) {
    await Promise.resolve();
    this.#check();
    return this.inner.get(r, since, id, skip);
  }
  async delete(r: string, id: string) {
    await Promise.resolve();
    this.#check();
    return this.inner.delete(r, id);
  }
  expire(before: number) {
    return this.inner.expire(before);
  }
  close() {
    this.inner.close();
  }
}

function setup() {
  const clock = new ManualClock();
  const store = new LaterStore();
  const directory = new MemoryDirectory(["joan"]);
  const announced: string[] = [];
  const notices: PlumiMessage[] = [];
  const noticed = Promise.withResolvers<void>();
  const mailbox = new MailboxService({
    domain: "bb.com",
    store,
    directory,
    isLocal: (d) => d === "bb.com",
    keyOf: () => undefined,
    notify: (_to, m) => {
      notices.push(m);
      noticed.resolve();
    },
    announce: (name) => announced.push(name),
    clock,
    now: () => clock.wallNow(),
  });
  /** Deposit `id`; the answer, with the commit released once the message is queued. */
  const deposit = async (id: string) => {
    const answer = mailbox.handle(
      DepositExt.encodeRequest({
        recipient: "joan@bb.com",
        sender: "pere@cc.com",
        id,
        part: { part: 1, parts: 1 },
        data: "AQIDBAUGBwgJ",
      }),
      STRANGER,
      () => undefined,
    );
    let answered = false;
    answer.then(() => answered = true, () => {});
    await store.inserted.promise;
    store.inserted = Promise.withResolvers<void>();
    clock.advance(0); // the commit starts: it waits for the gate
    await new Promise((resolve) => setTimeout(resolve, 0)); // every other step has run
    assert.equal(answered, false, "answered before the store committed");
    store.gate.resolve();
    const text = formatPlumi((await answer)!);
    store.gate = Promise.withResolvers<void>();
    return text;
  };
  const fetch = async () =>
    formatPlumi(
      (await mailbox.handle(
        FetchExt.encodeRequest({ kind: "fetch", address: "joan@bb.com" }),
        JOAN_AT,
        (a) => a.startsWith("joan@") ? "joan" : undefined,
      ))!,
    );
  return { store, mailbox, deposit, fetch, announced, notices, noticed, directory };
}

Deno.test("a store that answers later: RM0 only once it committed, and the message is fetched", async () => {
  const { store, mailbox, deposit, fetch, announced, notices } = setup();
  assert.equal(await deposit("00000000000000a1"), "RM0;id=00000000000000a1;n=1/1");
  assert.match(await fetch(), /^RF0;id=00000000000000a1;f=pere@cc\.com;/);
  // A clustered domain: announced for whichever node holds the registration, not sent from here.
  assert.deepEqual(announced, ["joan"]);
  assert.deepEqual(notices, []);
  store.refuse = "quota";
  assert.equal(await deposit("00000000000000a2"), "RM1;id=00000000000000a2;e=quota");
  mailbox.close();
});

Deno.test("a store that fails: deposits and fetches answered e=store, then work again", async () => {
  const { store, mailbox, fetch, deposit, directory, notices, noticed } = setup();
  store.failing = true;
  const refused = await mailbox.handle(
    DepositExt.encodeRequest({
      recipient: "joan@bb.com",
      sender: "pere@cc.com",
      id: "00000000000000b1",
      part: { part: 1, parts: 1 },
      data: "AQIDBAUGBwgJ",
    }),
    STRANGER,
    () => undefined,
  );
  assert.equal(formatPlumi(refused!), "RM1;id=00000000000000b1;e=store");
  assert.equal(await fetch(), "RF1;e=store");
  store.failing = false;
  assert.equal(await deposit("00000000000000b2"), "RM0;id=00000000000000b2;n=1/1");
  // The node holding joan's registration sends the notice it is asked for.
  directory.register("joan", JOAN_AT, 0, { token: "T", heartbeatMs: 30_000, busy: false });
  mailbox.noticeFor("joan");
  await noticed.promise;
  assert.deepEqual(notices.map(formatPlumi), ["PFjoan@bb.com;c=1"]);
  mailbox.close();
});
