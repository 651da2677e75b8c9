/**
 * The node's offline messages (docs/PROTOCOL.md, "Offline messages"): it
 * keeps sealed messages for its users until they fetch and acknowledge them,
 * and vouches for their identity keys to agents of any domain (`PW`), so
 * that those can seal to them. It never sees a message's text: only the
 * recipient's identity key opens it (`lib/crypto/sealed.ts`).
 *
 * - `PM` deposit: parts are gathered in memory (bounded in number and time),
 *   a whole message is checked against the bounds of `[mailbox]` and queued;
 *   the queue is committed in one transaction at the next turn of the event
 *   loop, and only then is the last part acknowledged (`RM0;n=k/k`). The
 *   recipient, if online with an extended agent, is told (`PF…;c=`).
 * - `PF` fetch: only the recipient's own session (the session check of
 *   `extended.ts`, through the `caller` function each call is given) reads
 *   or deletes its messages.
 *
 * @module
 */

import type { Clock, Repeating, TimerHandle } from "../clock.ts";
import { every } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import { formatPlumi } from "../plumi/codec.ts";
import type { ExtensionRequest, PlumiMessage } from "../plumi/messages.ts";
import { MAX_EXTENDED_PACKET_BYTES } from "../plumi/messages.ts";
import {
  dataBytes,
  dataText,
  type DepositError,
  DepositExt,
  FetchExt,
  KeyExt,
  MAX_BATCH,
  MAX_PART_CHARS,
  MAX_PARTS,
} from "../plumi/extensions/mod.ts";
import { canonical, splitAddress } from "./buddies.ts";
import type { Directory } from "./directory.ts";
import type { MailboxBound, MessageStore, StoredMessage, Usage } from "./mailbox_store.ts";

/** A bound a deposit would pass, if any. */
type Bound = MailboxBound | undefined;
import { StoreError } from "./store_error.ts";
import { mailboxDefaults, type MailboxSettings } from "./mailbox_settings.ts";

export { mailboxDefaults, type MailboxSettings } from "./mailbox_settings.ts";

/** Acknowledged messages are deleted from disk within this, ms (in one transaction). */
export const DELETE_COMMIT_MS = 50;

/** Options of {@linkcode MailboxService}. */
export interface MailboxOptions {
  /** The node's domain, as notices name its users. */
  readonly domain: string;
  readonly store: MessageStore;
  readonly directory: Directory;
  /** Is `name`'s registration another node's (a clustered domain)? Default: never. */
  readonly ownedElsewhere?: (name: string) => boolean;
  /** Have every node of the domain call {@linkcode MailboxService.noticeFor} (a clustered domain). */
  readonly announce?: (name: string) => void;
  /** Is `domain` this node's? */
  readonly isLocal: (domain: string) => boolean;
  /** The identity key bound to the account `name` (`PI`), if any. */
  readonly keyOf: (name: string) => string | undefined;
  /** Send the node's own message (the notice) to an agent. */
  readonly notify: (to: Endpoint, message: PlumiMessage) => void;
  /** Timers: the commit at the next turn, partial deposits' deadline, expiry. */
  readonly clock: Clock;
  /** Wall-clock ms. Default: `Date.now`. */
  readonly now?: () => number;
  readonly settings?: Partial<MailboxSettings>;
}

/**
 * The name of the user at `address` if the request was sealed by that
 * user's session and comes from its agent (`extended.ts` checked the seal).
 */
export type Caller = (address: string) => string | undefined;

/** Counters of the offline messages, for `stats` and the metrics. */
export interface MailboxCounters {
  /** Parts of deposits received and held. */
  parts: number;
  /** Whole messages stored (committed). */
  stored: number;
  /** Deposits refused, by reason. */
  refused: Record<string, number>;
  /** Parts handed to recipients. */
  fetched: number;
  /** Messages acknowledged and deleted. */
  acknowledged: number;
  /** Messages deleted unfetched past their time to live. */
  expired: number;
  /** Partial deposits dropped (never completed in time, or no room). */
  abandoned: number;
  /** Notices sent to online recipients. */
  notices: number;
  /** Key requests answered. */
  keys: number;
}

interface PartialDeposit {
  readonly parts: (Uint8Array | undefined)[];
  got: number;
  bytes: number;
  readonly sender: string;
  readonly quota: string;
  readonly until: number;
}

/** Bytes of a sealed message one `RF0` part carries for `sender`: as many as 512 bytes allow. */
export function partBytes(sender: string, maxBytes = MAX_EXTENDED_PACKET_BYTES): number {
  const overhead = formatPlumi(FetchExt.encodeReply({
    kind: "part",
    id: "0000000000000000",
    sender,
    storedAt: 99_999_999_999,
    part: { part: MAX_PARTS, parts: MAX_PARTS },
    data: "",
    index: MAX_BATCH - 1,
  })).length;
  const chars = Math.min(MAX_PART_CHARS, Math.floor((maxBytes - overhead) / 4) * 4);
  return (chars / 4) * 3;
}

/** Offline messages: deposits, fetches, keys, and the bounds of `[mailbox]`. */
export class MailboxService {
  readonly #domain: string;
  readonly #store: MessageStore;
  readonly #ownedElsewhere: ((name: string) => boolean) | undefined;
  readonly #announce: ((name: string) => void) | undefined;
  readonly #directory: Directory;
  readonly #isLocal: (domain: string) => boolean;
  readonly #keyOf: (name: string) => string | undefined;
  readonly #notify: (to: Endpoint, message: PlumiMessage) => void;
  readonly #clock: Clock;
  readonly #now: () => number;
  #settings: MailboxSettings;
  readonly #partial = new Map<string, PartialDeposit>();
  /** Resolved when the queued deposits are committed (or rejected when that fails). */
  #flush: { promise: Promise<StoredMessage[]>; scheduled: boolean } | undefined;
  readonly #sweeper: Repeating;
  #lazy: TimerHandle | undefined;
  readonly counters: MailboxCounters = {
    parts: 0,
    stored: 0,
    refused: {},
    fetched: 0,
    acknowledged: 0,
    expired: 0,
    abandoned: 0,
    notices: 0,
    keys: 0,
  };

  constructor(options: MailboxOptions) {
    this.#domain = options.domain;
    this.#store = options.store;
    this.#directory = options.directory;
    this.#ownedElsewhere = options.ownedElsewhere;
    this.#announce = options.announce;
    this.#isLocal = options.isLocal;
    this.#keyOf = options.keyOf;
    this.#notify = options.notify;
    this.#clock = options.clock;
    this.#now = options.now ?? Date.now;
    this.#settings = { ...mailboxDefaults, ...options.settings };
    this.#sweeper = every(this.#clock, 60_000, () => this.sweep());
  }

  /** The bounds in force. */
  get settings(): MailboxSettings {
    return this.#settings;
  }

  /** Apply new bounds (a reload); what is stored stays. */
  apply(settings: Partial<MailboxSettings>): void {
    this.#settings = { ...mailboxDefaults, ...settings };
  }

  /** Messages stored now, and recipients with some waiting. */
  get stored(): { readonly messages: number; readonly recipients: number } {
    return { messages: this.#store.total, recipients: this.#store.recipients };
  }

  /** Answer one `PM`, `PF` or `PW` from `from`; `caller` is the session check of `extended.ts`. */
  async handle(
    message: ExtensionRequest,
    from: Endpoint,
    caller: Caller,
  ): Promise<PlumiMessage | undefined> {
    switch (message.type) {
      case "M":
        return await this.#deposit(message, from, caller);
      case "F":
        return await this.#fetch(message, caller);
      case "W":
        return this.#key(message);
      default:
        return undefined;
    }
  }

  #refuse(error: DepositError, id?: string): PlumiMessage {
    this.counters.refused[error] = (this.counters.refused[error] ?? 0) + 1;
    return DepositExt.encodeReply({ kind: "refused", error, ...(id !== undefined && { id }) });
  }

  async #deposit(
    message: ExtensionRequest,
    from: Endpoint,
    caller: Caller,
  ): Promise<PlumiMessage> {
    const s = this.#settings;
    const decoded = DepositExt.decodeRequest(message);
    if (!decoded.ok) return this.#refuse("invalid");
    const r = decoded.value;
    if (!s.enabled) return this.#refuse("off", r.id);
    const [name, domain] = splitAddress(r.recipient);
    if (!this.#isLocal(domain) || !this.#directory.has(name)) return this.#refuse("user", r.id);
    // A sender of this domain proves it is one (its session); any other is a stranger, by IP.
    const [senderName, senderDomain] = splitAddress(r.sender);
    let quota: string;
    if (this.#isLocal(senderDomain)) {
      if (caller(r.sender) !== senderName) return this.#refuse("auth", r.id);
      quota = canonical(r.sender);
    } else quota = `ip:${from.ip}`;
    const held = (): PlumiMessage => {
      this.counters.parts++;
      return DepositExt.encodeReply({ kind: "held", id: r.id, part: r.part });
    };
    // A copy of a part already stored (its answer was lost): the same answer again. A store that
    // checks at its commit (Redis) answers a copy of a one-part message there: no read first.
    const atCommit = this.#store.checksAtCommit === true;
    if (!atCommit || r.part.parts > 1) {
      try {
        // A store that answers at once (SQLite) is not awaited: the burst stays in one turn.
        const stored = this.#store.has(name, r.id);
        if (stored instanceof Promise ? await stored : stored) return held();
      } catch (error) {
        if (!(error instanceof StoreError)) throw error;
        return this.#refuse("store", r.id);
      }
    }
    const bytes = dataBytes(r.data);
    if (!bytes) return this.#refuse("invalid", r.id);
    // A message of one part (most lines) needs no gathering.
    if (r.part.parts === 1) return await this.#store1(name, r.id, r.sender, quota, bytes, held);
    const key = `${name} ${r.id}`;
    let partial = this.#partial.get(key);
    if (!partial) {
      let over;
      try {
        const bound = this.#overBounds(name, quota, 0);
        over = bound instanceof Promise ? await bound : bound;
      } catch (error) {
        if (!(error instanceof StoreError)) throw error;
        return this.#refuse("store", r.id);
      }
      if (over) return this.#refuse(over, r.id);
      this.#dropStalePartials();
      if (this.#partial.size >= s.maxPartial) return this.#refuse("full", r.id);
      partial = {
        parts: new Array(r.part.parts).fill(undefined),
        got: 0,
        bytes: 0,
        sender: r.sender,
        quota,
        until: this.#clock.now() + s.partialTimeoutMs,
      };
      this.#partial.set(key, partial);
    }
    if (partial.parts.length !== r.part.parts || partial.quota !== quota) {
      return this.#refuse("invalid", r.id);
    }
    const index = r.part.part - 1;
    if (partial.parts[index] === undefined) {
      partial.parts[index] = bytes;
      partial.got++;
      partial.bytes += bytes.length;
      if (partial.bytes > s.maxMessageBytes) {
        this.#partial.delete(key);
        return this.#refuse("big", r.id);
      }
    }
    if (partial.got < partial.parts.length) return held();
    this.#partial.delete(key);
    const body = new Uint8Array(partial.bytes);
    let at = 0;
    for (const part of partial.parts) {
      body.set(part!, at);
      at += part!.length;
    }
    return await this.#store1(name, r.id, r.sender, quota, body, held);
  }

  /** Store a whole message (checked against the bounds) and answer once it is on disk. */
  async #store1(
    name: string,
    id: string,
    sender: string,
    quota: string,
    body: Uint8Array<ArrayBuffer>,
    held: () => PlumiMessage,
  ): Promise<PlumiMessage> {
    if (body.length > this.#settings.maxMessageBytes) return this.#refuse("big", id);
    const message = { recipient: name, id, sender, quota, storedAt: this.#now(), body };
    try {
      if (this.#store.checksAtCommit !== true) {
        const bound = this.#overBounds(name, quota, body.length);
        const over = bound instanceof Promise ? await bound : bound;
        if (over) return this.#refuse(over, id);
      }
      this.#store.insert(message);
      // A bound the store checks atomically at the commit (shared with other nodes) may refuse it.
      const kept = await this.#committed();
      if (!kept.includes(message)) {
        return this.#refuse(this.#store.refusal?.(message) ?? "full", id);
      }
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      return this.#refuse("store", id);
    }
    this.counters.stored++;
    this.#tell(name);
    return held();
  }

  /** Which bound a new message of `bytes` for `name`, in share `quota`, would pass, if any. */
  #overBounds(name: string, quota: string, bytes: number): Bound | Promise<Bound> {
    const mine = this.#store.recipientUsage(name);
    const share = this.#store.shareUsage(quota);
    if (mine instanceof Promise || share instanceof Promise) {
      return Promise.all([mine, share]).then(([m, q]) => this.#judge(m, q, bytes));
    }
    return this.#judge(mine, share, bytes);
  }

  #judge(mine: Usage, share: Usage, bytes: number): Bound {
    const s = this.#settings;
    if (mine.messages + 1 > s.maxPerRecipient || mine.bytes + bytes > s.maxBytesPerRecipient) {
      return "full";
    }
    if (share.messages + 1 > s.maxPerSender || share.bytes + bytes > s.maxBytesPerSender) {
      return "quota";
    }
    return undefined;
  }

  /** Partial deposits past their deadline are forgotten (their sender sends again). */
  #dropStalePartials(): void {
    const now = this.#clock.now();
    for (const [key, partial] of this.#partial) {
      if (partial.until > now) break; // in order of arrival: the rest are younger
      this.#partial.delete(key);
      this.counters.abandoned++;
    }
  }

  /** Wait for the queue's commit at the next turn of the event loop: one transaction for a burst. */
  #committed(): Promise<StoredMessage[]> {
    if (this.#flush) return this.#flush.promise;
    let settle!: { resolve: (v: StoredMessage[]) => void; reject: (e: unknown) => void };
    const promise = new Promise<StoredMessage[]>((resolve, reject) => {
      settle = { resolve, reject };
    });
    this.#flush = { promise, scheduled: true };
    this.#clock.setTimeout(() => {
      this.#flush = undefined;
      try {
        Promise.resolve(this.#store.commit(this.#settings)).then(settle.resolve, settle.reject);
      } catch (error) {
        settle.reject(error);
      }
    }, 0);
    return promise;
  }

  /** Commit the deletions within {@linkcode DELETE_COMMIT_MS} (or with the next deposits). */
  #lazyCommit(): void {
    if (this.#lazy !== undefined) return;
    this.#lazy = this.#clock.setTimeout(() => {
      this.#lazy = undefined;
      this.#committed().catch(() => {}); // counted by the store; the rows stay, read again
    }, DELETE_COMMIT_MS);
  }

  /**
   * Tell `name`'s agent, if it is online with a session, that messages wait.
   * A clustered domain's nodes are all asked (published): the one that holds
   * the registration sends it. Never throws.
   */
  #tell(name: string): void {
    if (this.#announce) this.#announce(name);
    else this.noticeFor(name);
  }

  /** Send `name`'s agent the notice if this node holds its registration (with a session). */
  noticeFor(name: string): void {
    const registration = this.#directory.get(name);
    if (!registration?.session || this.#ownedElsewhere?.(name)) return;
    const send = (waiting: number) => {
      this.counters.notices++;
      this.#notify(
        registration.endpoint,
        FetchExt.encodeRequest({ kind: "notice", address: `${name}@${this.#domain}`, waiting }),
      );
    };
    try {
      const usage = this.#store.recipientUsage(name);
      if (!(usage instanceof Promise)) return send(usage.messages);
      // The store fails: the agent fetches at its next log-in.
      usage.then((u) => send(u.messages), () => {});
    } catch {
      // as above
    }
  }

  async #fetch(message: ExtensionRequest, caller: Caller): Promise<PlumiMessage> {
    const refuse = (error: "auth" | "invalid" | "store" | "off") =>
      FetchExt.encodeReply({ kind: "refused", error });
    // The one check, first: the recipient's own session, from its own agent's address.
    const name = caller(message.address);
    if (name === undefined) return refuse("auth");
    const decoded = FetchExt.decodeRequest(message);
    // A notice is the node's to send; as a request it is malformed.
    if (!decoded.ok || decoded.value.kind !== "fetch") return refuse("invalid");
    const request = decoded.value;
    if (!this.#settings.enabled) return refuse("off");
    try {
      for (const id of request.ack ?? []) {
        const deleted = this.#store.delete(name, id);
        if (!(deleted instanceof Promise ? await deleted : deleted)) continue;
        this.counters.acknowledged++;
        // Committed a little later, with others: a deletion lost to a crash means a copy, never
        // a loss.
        this.#lazyCommit();
      }
      const since = this.#now() - this.#settings.ttlMs;
      const index = request.want ? undefined : request.index;
      const got = this.#store.get(name, since, request.want?.id, index ?? 0);
      const found = got instanceof Promise ? await got : got;
      const at = index === undefined ? {} : { index };
      if (!found) return FetchExt.encodeReply({ kind: "empty", ...at });
      const size = partBytes(found.sender);
      const parts = Math.max(1, Math.ceil(found.body.length / size));
      const part = request.want?.part.part ?? 1;
      if (part > parts) return refuse("invalid");
      this.counters.fetched++;
      return FetchExt.encodeReply({
        kind: "part",
        id: found.id,
        sender: found.sender,
        storedAt: Math.floor(found.storedAt / 1000),
        part: { part, parts },
        data: dataText(found.body.slice((part - 1) * size, part * size)),
        ...at,
      });
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      return refuse("store");
    }
  }

  #key(message: ExtensionRequest): PlumiMessage {
    if (!this.#settings.enabled) return KeyExt.encodeReply({ kind: "refused", error: "off" });
    const [name, domain] = splitAddress(message.address);
    if (!this.#isLocal(domain) || !this.#directory.has(name)) {
      return KeyExt.encodeReply({ kind: "none" });
    }
    try {
      const key = this.#keyOf(name);
      this.counters.keys++;
      return KeyExt.encodeReply(key ? { kind: "vouched", key } : { kind: "none" });
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      return KeyExt.encodeReply({ kind: "refused", error: "store" });
    }
  }

  /** Delete what outlived its time to live; called every minute. Never throws. */
  async sweep(): Promise<number> {
    try {
      if (this.#store.dirty) return 0; // the commit under way first
      const n = await this.#store.expire(this.#now() - this.#settings.ttlMs);
      this.counters.expired += n;
      this.#dropStalePartials();
      return n;
    } catch {
      return 0; // the database fails: counted by its store; next minute again
    }
  }

  /** Stop the timers and close the table. */
  close(): void {
    this.#sweeper.stop();
    if (this.#lazy !== undefined) this.#clock.clearTimeout(this.#lazy);
    this.#store.close();
  }
}
