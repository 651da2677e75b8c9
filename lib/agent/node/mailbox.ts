/**
 * The agent's offline messages (docs/PROTOCOL.md, "Offline messages"):
 * `/msg` to someone who cannot be reached leaves the line, sealed to the
 * recipient's identity key (`lib/crypto/sealed.ts`), with the recipient's
 * node; after logging in (and at each notice of its node) the agent fetches
 * what waits for it, opens it, shows it, acknowledges it (the node deletes
 * it) and sends the sender a sealed delivery receipt the same way.
 *
 * The agent talks to the recipient's node itself: its own node through its
 * own client (with its session, so the node knows the sender), another
 * domain's node through a client of its own, found as the agent finds its
 * own node (`openNode`). Nodes never pass offline messages to each other.
 *
 * @module
 */

import { addressKey, sameAddress } from "../addresses.ts";
import { keyFromText, keyToText } from "../../crypto/identity.ts";
import type { RawKeyPair } from "../../crypto/noise.ts";
import {
  MAX_RECEIPT_IDS,
  newMessageId,
  open,
  type Opened,
  seal,
  SealedError,
  type SealedPayload,
} from "../../crypto/sealed.ts";
import { parseAddress } from "../../plumi/address.ts";
import { formatPlumi } from "../../plumi/codec.ts";
import {
  dataBytes,
  dataText,
  DepositExt,
  type DepositReply,
  FetchExt,
  type FetchReply,
  type FetchRequest,
  KeyExt,
  type KeyReply,
  MAX_PART_CHARS,
  MAX_PARTS,
  MAX_SEAL_CHARS,
} from "../../plumi/extensions/mod.ts";
import { MAX_EXTENDED_PACKET_BYTES, type PlumiMessage } from "../../plumi/messages.ts";
import { describeError } from "../errors.ts";
import { offlineText } from "../terminal/texts.ts";
import type { AgentUi } from "../terminal/ui.ts";
import type { PlumiClient } from "./client.ts";
import { type DeliveryLog, markDelivered } from "./mailbox_history.ts";

/** What the mailbox needs of the agent. */
export interface AgentMailboxOptions {
  /** Our address. */
  readonly address: string;
  /** The client of our own node. */
  readonly client: PlumiClient;
  /** Our identity (the keyring's). */
  readonly identity: RawKeyPair;
  /** Whether we have a session with an extended node (our client then seals `PM`/`PF`). */
  readonly extended: () => boolean;
  readonly ui: AgentUi;
  /** A client of another domain's node (found as our own node is); the mailbox closes it. */
  readonly openNode: (domain: string) => Promise<PlumiClient>;
  /** Deliver the line through a conversation if the peer is reachable now; `true` if it went. */
  readonly talk?: (address: string, text: string) => Promise<boolean>;
  /** The history, to mark lines delivered. Default: none. */
  readonly history?: DeliveryLog;
  /** Wall clock, ms. Default: `Date.now`. */
  readonly now?: () => number;
  /** Our pinned keys: is this the key we know for `address`? Default: not known. */
  readonly judge?: (address: string, key: Uint8Array) => Promise<"known" | "new" | "changed">;
}

/** Messages asked for at once (each its own request, `i=0…`). */
const BATCH = 16;
/** Most messages one fetch round takes (then the next notice or log-in goes on). */
const MAX_FETCH = 10_000;
/** Ids of messages shown, to drop a copy fetched again after a lost acknowledgement. */
const MAX_SEEN = 10_000;
/** Foreign nodes' clients kept open at once. */
const MAX_NODES = 8;

/** The text of a time, for the user. */
function when(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function domainOf(address: string): string {
  return addressKey(address).slice(address.indexOf("@") + 1);
}

/** Characters of `d=` one `PM` part may carry, for these addresses (`sealed`: with our session's seal). */
export function depositChars(to: string, from: string, sealed: boolean): number {
  const overhead = formatPlumi(DepositExt.encodeRequest({
    recipient: to,
    sender: from,
    id: "0000000000000000",
    part: { part: MAX_PARTS, parts: MAX_PARTS },
    data: "",
  })).length + (sealed ? MAX_SEAL_CHARS : 0);
  return Math.min(MAX_PART_CHARS, Math.floor((MAX_EXTENDED_PACKET_BYTES - overhead) / 4) * 4);
}

/** Offline messages of one agent: `/msg`, fetching after log-in and on notices, receipts. */
export class AgentMailbox {
  readonly #o: AgentMailboxOptions;
  readonly #now: () => number;
  readonly #nodes = new Map<string, Promise<PlumiClient>>();
  readonly #seen = new Set<string>();
  /** The key question under way at each node's client. */
  readonly #asking = new WeakMap<PlumiClient, Promise<void>>();
  /** Keys vouched for (or why none), by sender, for one fetch round: one question per sender. */
  readonly #vouched = new Map<string, Promise<Uint8Array | string>>();
  /** Messages we left, waiting for their receipt: id → recipient. */
  readonly #sent = new Map<string, string>();
  #fetching: Promise<number> | undefined;
  #again = false;
  #closed = false;
  /** Receipts gathered in this round, by sender and key. */
  readonly #due = new Map<string, { to: string; key: Uint8Array; ids: string[] }>();
  /** Receipts to send, one at a time behind the fetches. */
  #receipts: Promise<void> = Promise.resolve();

  constructor(options: AgentMailboxOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /** `/msg to text`: through a conversation if the peer is reachable, else left with its node. */
  async send(to: string, text: string): Promise<string | undefined> {
    const { ui } = this.#o;
    if (sameAddress(to, this.#o.address)) {
      ui.warn(offlineText.notForYourself());
      return undefined;
    }
    if (await this.#o.talk?.(to, text).catch(() => false)) return undefined;
    ui.info(offlineText.leaving(to));
    return await this.leave(to, text);
  }

  /** Leave `text` for `to` with its node. Resolves to the message id once stored, else `undefined` (said why). */
  async leave(to: string, text: string): Promise<string | undefined> {
    const { ui } = this.#o;
    const id = newMessageId();
    const payload: SealedPayload = {
      kind: "text",
      id,
      sent: this.#now(),
      from: addressKey(this.#o.address),
      text,
    };
    const problem = await this.#deposit(to, payload);
    if (problem !== undefined) {
      ui.warn(problem);
      return undefined;
    }
    if (this.#sent.size >= MAX_SEEN) this.#sent.delete(this.#sent.keys().next().value!);
    this.#sent.set(id, to);
    try {
      this.#o.history?.record(to, "out", text, id);
    } catch {
      // the history never stops a chat
    }
    ui.info(offlineText.left(to, id));
    return id;
  }

  /** The client of `to`'s node: ours, or one of its own (kept, a few at a time). */
  #clientFor(to: string): Promise<PlumiClient> {
    const domain = domainOf(to);
    if (domain === domainOf(this.#o.address)) return Promise.resolve(this.#o.client);
    let client = this.#nodes.get(domain);
    if (!client) {
      if (this.#nodes.size >= MAX_NODES) {
        const [oldest, first] = this.#nodes.entries().next().value!;
        this.#nodes.delete(oldest);
        void first.then((c) => c.close(), () => {});
      }
      client = this.#o.openNode(domain);
      this.#nodes.set(domain, client);
      client.catch(() => this.#nodes.delete(domain));
    }
    return client;
  }

  /**
   * The key `address`'s node vouches for, or why there is none (a text for the user). One
   * question at a time per node: an `RW` does not say whose key it is.
   */
  #keyOf(address: string, client: PlumiClient): Promise<Uint8Array | string> {
    const before = this.#asking.get(client) ?? Promise.resolve();
    const asked = before.then(() => this.#askKey(address, client));
    this.#asking.set(client, asked.then(() => {}, () => {}));
    return asked;
  }

  async #askKey(address: string, client: PlumiClient): Promise<Uint8Array | string> {
    const reply = await client.request(
      KeyExt.encodeRequest({ address: addressKey(address) }),
      (m) => m.kind === "ext-reply" && m.type === "W",
    );
    const answer = reply.kind === "ext-reply" ? KeyExt.decodeReply(reply) : undefined;
    const value: KeyReply | undefined = answer?.ok ? answer.value : undefined;
    if (value?.kind === "vouched") return keyFromText(value.key) ?? offlineText.noKey(address);
    if (value?.kind === "refused") {
      return offlineText.refused(address, offlineText.reasons[value.error] ?? value.error);
    }
    return offlineText.noKey(address);
  }

  /** Seal `payload` to `to` and leave it, part by part; the problem in words, or `undefined` when stored. */
  async #deposit(
    to: string,
    payload: SealedPayload,
    key?: Uint8Array,
  ): Promise<string | undefined> {
    const recipient = addressKey(to);
    let client: PlumiClient;
    try {
      client = await this.#clientFor(recipient);
    } catch (error) {
      return offlineText.noNode(to, describeError(error));
    }
    try {
      const recipientKey = key ?? await this.#keyOf(recipient, client);
      if (typeof recipientKey === "string") return recipientKey;
      const sealed = await seal(this.#o.identity, recipientKey, recipient, payload);
      const own = client === this.#o.client;
      if (own && !this.#o.extended()) return offlineText.needsSession();
      const data = dataText(sealed);
      const chars = depositChars(recipient, payload.from, own);
      const parts = Math.ceil(data.length / chars);
      if (parts > MAX_PARTS) return offlineText.refused(to, offlineText.reasons["big"]!);
      for (let i = 0; i < parts; i++) {
        const reply = await client.request(
          DepositExt.encodeRequest({
            recipient,
            sender: payload.from,
            id: payload.id,
            part: { part: i + 1, parts },
            data: data.slice(i * chars, (i + 1) * chars),
          }),
          (m) => isDepositAnswer(m, payload.id, i + 1),
        );
        const answer = reply.kind === "ext-reply" ? DepositExt.decodeReply(reply) : undefined;
        const value: DepositReply | undefined = answer?.ok ? answer.value : undefined;
        if (value?.kind !== "held") {
          const why = value?.kind === "refused" ? value.error : "invalid";
          return offlineText.refused(to, offlineText.reasons[why] ?? why);
        }
      }
      return undefined;
    } catch (error) {
      if (error instanceof SealedError) return offlineText.noKey(to);
      return offlineText.noNode(to, describeError(error));
    }
  }

  /** The node says messages wait: fetch them (now, or right after the round under way). */
  notice(): void {
    if (this.#fetching) this.#again = true;
    else void this.fetch().catch(() => {});
  }

  /**
   * Fetch, open, show and acknowledge every message waiting at our node.
   * Resolves to how many were handled. One round at a time.
   */
  fetch(): Promise<number> {
    this.#fetching ??= (async () => {
      let handled = 0;
      try {
        do {
          this.#again = false;
          this.#vouched.clear();
          try {
            handled += await this.#round();
          } finally {
            this.#sendReceipts();
          }
        } while (this.#again && !this.#closed);
      } finally {
        this.#fetching = undefined;
      }
      return handled;
    })();
    return this.#fetching;
  }

  async #round(): Promise<number> {
    const { address } = this.#o;
    let acks: string[] = [];
    let handled = 0;
    while (handled <= MAX_FETCH && !this.#closed) {
      if (!this.#o.extended()) return handled;
      // A batch: the oldest BATCH messages at once (the first request acknowledges the last batch).
      const answers = await Promise.all(
        Array.from({ length: BATCH }, (_, index) =>
          this.#ask({
            kind: "fetch",
            address,
            index,
            ...(index === 0 && acks.length > 0 && { ack: acks }),
          })),
      );
      acks = [];
      const firsts = new Map<string, Extract<FetchReply, { kind: "part" }>>();
      for (const a of answers) if (a?.kind === "part" && !firsts.has(a.id)) firsts.set(a.id, a);
      if (firsts.size === 0) return handled;
      const bodies: (Uint8Array | undefined)[] = [];
      for (const first of firsts.values()) bodies.push(await this.#whole(first));
      // Opened together, shown in order.
      const opened = await Promise.all(bodies.map((b) => b && this.#unseal(b)));
      let i = 0;
      for (const first of firsts.values()) {
        const one = opened[i++];
        if (one !== undefined) await this.#take(one, first.storedAt * 1000);
        acks.push(first.id);
        handled++;
      }
    }
    if (acks.length > 0) {
      await this.#ask({ kind: "fetch", address, ack: acks });
    }
    return handled;
  }

  /** The whole sealed message of which `first` is the first part (the rest fetched by id). */
  async #whole(first: Extract<FetchReply, { kind: "part" }>): Promise<Uint8Array | undefined> {
    const parts = [dataBytes(first.data)];
    for (let p = 2; p <= first.part.parts; p++) {
      const next = await this.#ask({
        kind: "fetch",
        address: this.#o.address,
        want: { id: first.id, part: { part: p, parts: first.part.parts } },
      });
      parts.push(next?.kind === "part" && next.id === first.id ? dataBytes(next.data) : undefined);
    }
    if (!parts.every((b) => b !== undefined)) {
      this.#o.ui.warn(offlineText.unreadable("a part is missing or not base64"));
      return undefined;
    }
    const body = new Uint8Array(parts.reduce((n, b) => n + b!.length, 0));
    let at = 0;
    for (const b of parts) {
      body.set(b!, at);
      at += b!.length;
    }
    return body;
  }

  /** Open a sealed message for us; `undefined` (said so) when it cannot be. */
  async #unseal(body: Uint8Array): Promise<Opened | undefined> {
    try {
      return await open(this.#o.identity, addressKey(this.#o.address), body);
    } catch (error) {
      this.#o.ui.warn(offlineText.unreadable(describeError(error)));
      return undefined;
    }
  }

  async #ask(request: FetchRequest): Promise<FetchReply | undefined> {
    const index = request.kind === "fetch" && !request.want ? request.index : undefined;
    const reply = await this.#o.client.request(
      FetchExt.encodeRequest(request),
      (m) => {
        if (m.kind !== "ext-reply" || m.type !== "F") return false;
        const a = FetchExt.decodeReply(m);
        // With several at once, each answer goes to the request of its `i=`; a refusal to any.
        return !a.ok || a.value.kind === "refused" || a.value.index === index;
      },
    );
    const answer = reply.kind === "ext-reply" ? FetchExt.decodeReply(reply) : undefined;
    return answer?.ok ? answer.value : undefined;
  }

  /** Act on one opened message: show a line (its receipt to follow), or mark lines delivered. */
  async #take(opened: Opened, storedAt: number): Promise<void> {
    const { ui } = this.#o;
    const { payload, senderKey } = opened;
    // The sender's address is the sealer's claim: an address, or nothing is asked or shown.
    if (!parseAddress(payload.from).ok) {
      ui.warn(offlineText.unreadable("its sender is not an address"));
      return;
    }
    if (this.#seen.has(payload.id)) return;
    if (this.#seen.size >= MAX_SEEN) this.#seen.delete(this.#seen.values().next().value!);
    this.#seen.add(payload.id);
    const note = await this.#check(payload.from, senderKey);
    if (note === undefined) {
      ui.warn(offlineText.forged(payload.from));
      return;
    }
    if (payload.kind === "receipt") {
      for (const of of payload.of) {
        const to = this.#sent.get(of) ?? payload.from;
        this.#sent.delete(of);
        ui.info(offlineText.delivered(to, of, when(payload.sent)));
        markDelivered(this.#o.history, of);
      }
      return;
    }
    ui.info(offlineText.received(payload.from, when(payload.sent || storedAt), payload.text, note));
    try {
      this.#o.history?.record(payload.from, "in", payload.text, payload.id);
    } catch {
      // the history never stops a chat
    }
    // The receipt, sealed to the key that sealed the line: one for all of a round's lines from
    // that sender, sent after the round.
    const key = `${addressKey(payload.from)} ${keyToText(senderKey)}`;
    const due = this.#due.get(key) ?? { to: payload.from, key: senderKey, ids: [] };
    due.ids.push(payload.id);
    this.#due.set(key, due);
    if (due.ids.length >= MAX_RECEIPT_IDS) this.#sendReceipts();
  }

  /** Send the receipts gathered so far, one at a time behind the fetches. */
  #sendReceipts(): void {
    for (const due of this.#due.values()) {
      const receipt: SealedPayload = {
        kind: "receipt",
        id: newMessageId(),
        sent: this.#now(),
        from: addressKey(this.#o.address),
        of: due.ids,
      };
      this.#receipts = this.#receipts.then(() =>
        this.#deposit(due.to, receipt, due.key).then(() => {}, () => {})
      );
    }
    this.#due.clear();
  }

  /**
   * Is `key` the one vouched for at `from`? `""` yes, a note for the user when
   * it cannot be told, `undefined` when its node vouches for another key.
   */
  async #check(from: string, key: Uint8Array): Promise<string | undefined> {
    const sender = addressKey(from);
    let asked = this.#vouched.get(sender);
    if (!asked) {
      if (this.#vouched.size >= MAX_NODES * 64) this.#vouched.clear();
      asked = this.#clientFor(sender).then((c) => this.#keyOf(sender, c)).catch(() => "");
      this.#vouched.set(sender, asked);
    }
    const vouched = await asked;
    if (typeof vouched !== "string") {
      return keyToText(vouched) === keyToText(key) ? "" : undefined;
    }
    const pinned = await this.#o.judge?.(from, key);
    if (pinned === "changed") return offlineText.keyChanged();
    return offlineText.notVouched();
  }

  /** Wait for the receipts under way, and close the other nodes' clients. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#fetching?.catch(() => {});
    await this.#receipts;
    for (const client of this.#nodes.values()) {
      await client.then((c) => c.close(), () => {});
    }
    this.#nodes.clear();
  }
}

/** Is `m` the node's answer to part `part` of message `id`? */
function isDepositAnswer(m: PlumiMessage, id: string, part: number): boolean {
  if (m.kind !== "ext-reply" || m.type !== "M") return false;
  const answer = DepositExt.decodeReply(m);
  if (!answer.ok) return true; // an answer all the same: read as a refusal
  const v = answer.value;
  return v.kind === "held"
    ? v.id === id && v.part.part === part
    : v.id === undefined || v.id === id;
}
