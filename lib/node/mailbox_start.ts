/**
 * Starting the offline messages with the node (`run.ts`): the `mailbox`
 * table's connection (or, for a clustered domain, its messages in Redis:
 * `redis_mailbox.ts`), the service, and its counters for `stats`.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import type { PlumiMessage } from "../plumi/messages.ts";
import type { Directory } from "./directory.ts";
import { mailboxDefaults, MailboxService, type MailboxSettings } from "./mailbox.ts";
import { MailboxStore, type MessageStore } from "./mailbox_store.ts";
import type { RedisDirectory } from "./redis_directory.ts";
import { RedisMailbox } from "./redis_mailbox.ts";
import type { AccountStore } from "./store.ts";

/** What {@linkcode openMailbox} needs. */
export interface MailboxStart {
  /** The account database's path (already opened, and migrated, by `accounts`). */
  readonly path: string;
  readonly accounts: AccountStore;
  readonly domain: string;
  readonly directory: Directory;
  readonly isLocal: (domain: string) => boolean;
  readonly notify: (to: Endpoint, message: PlumiMessage) => void;
  readonly clock: Clock;
  readonly now: () => number;
  readonly settings?: Partial<MailboxSettings>;
  /** The domain's shared directory (`[cluster]`): the messages are kept in its Redis. */
  readonly cluster?: RedisDirectory;
}

/**
 * The offline messages of the node; throws {@linkcode StoreError} when the
 * table cannot be opened (or Redis refuses the notices' subscription).
 */
export async function openMailbox(start: MailboxStart): Promise<MailboxService> {
  const cluster = start.cluster;
  const late: { service?: MailboxService } = {};
  const redis = cluster && new RedisMailbox({
    link: cluster.link,
    prefix: cluster.prefix,
    now: start.now,
    ttlMs: () => late.service?.settings.ttlMs ?? mailboxDefaults.ttlMs,
  });
  const store: MessageStore = redis ?? MailboxStore.open(start.path);
  const service = new MailboxService({
    domain: start.domain,
    store,
    directory: start.directory,
    ...(cluster && redis && {
      ownedElsewhere: (name: string) => cluster.ownedElsewhere(name),
      announce: (name: string) => redis.announce(name),
    }),
    isLocal: start.isLocal,
    keyOf: (name) => start.accounts.identityKey(name),
    notify: start.notify,
    clock: start.clock,
    now: start.now,
    ...(start.settings && { settings: start.settings }),
  });
  late.service = service;
  if (redis) {
    await redis.onNotice((name) => service.noticeFor(name));
    await moveToRedis(start.path, redis, service.settings);
  }
  return service;
}

/** Messages moved from the table to Redis per round trip. */
const MOVE_BATCH = 500;

/**
 * Move the messages this node kept in its own `mailbox` table (before it
 * joined a cluster) into Redis, each deleted from the table once Redis has
 * it; no bound refuses them. When Redis fails, what is left is moved at the
 * next start. Returns how many were moved.
 */
export async function moveToRedis(
  path: string,
  redis: RedisMailbox,
  settings: MailboxSettings,
): Promise<number> {
  const unbounded = {
    ...settings,
    maxPerRecipient: Number.MAX_SAFE_INTEGER,
    maxBytesPerRecipient: Number.MAX_SAFE_INTEGER,
    maxPerSender: Number.MAX_SAFE_INTEGER,
    maxBytesPerSender: Number.MAX_SAFE_INTEGER,
  };
  let moved = 0;
  let table: MailboxStore | undefined;
  try {
    table = MailboxStore.open(path);
    const rounds = Math.ceil(table.total / MOVE_BATCH);
    for (let round = 0; round < rounds; round++) {
      const batch = table.oldest(MOVE_BATCH);
      if (batch.length === 0) break;
      for (const message of batch) redis.insert(message);
      const kept = await redis.commit(unbounded);
      for (const message of kept) table.delete(message.recipient, message.id);
      table.commit();
      moved += kept.length;
    }
  } catch {
    // Redis or the table fails: the rest stays in the table, for the next start.
  } finally {
    table?.close();
  }
  return moved;
}

/** The counters of `mailbox` for the console's `stats` (flat names, as the others). */
export function mailboxStats(mailbox: MailboxService): Record<string, number> {
  const c = mailbox.counters;
  const refused = Object.values(c.refused).reduce((a, b) => a + b, 0);
  return {
    mailboxStored: mailbox.stored.messages,
    mailboxRecipients: mailbox.stored.recipients,
    mailboxDeposits: c.stored,
    mailboxParts: c.parts,
    mailboxRefused: refused,
    ...Object.fromEntries(Object.entries(c.refused).map(([k, v]) => [`mailboxRefused_${k}`, v])),
    mailboxFetched: c.fetched,
    mailboxAcknowledged: c.acknowledged,
    mailboxExpired: c.expired,
    mailboxAbandoned: c.abandoned,
    mailboxNotices: c.notices,
    mailboxKeys: c.keys,
  };
}

/** The counters of `mailbox` for the metrics (`lumi_mailbox_total`, `lumi_mailbox_messages`). */
export function mailboxMetrics(
  mailbox: MailboxService,
): { stored: number; events: Record<string, number> } {
  const c = mailbox.counters;
  return {
    stored: mailbox.stored.messages,
    events: {
      stored: c.stored,
      parts: c.parts,
      ...Object.fromEntries(Object.entries(c.refused).map(([k, v]) => [`refused-${k}`, v])),
      fetched: c.fetched,
      acknowledged: c.acknowledged,
      expired: c.expired,
      abandoned: c.abandoned,
      notices: c.notices,
      keys: c.keys,
    },
  };
}
