/**
 * The bounds of the offline messages, `[mailbox]` in `nodelumi.cfg`
 * (docs/OPERATIONS.md), and their defaults.
 *
 * @module
 */

import { parseYesNo, yesNoProblem } from "./config_values.ts";

/** The `[mailbox]` section, read. */
export interface MailboxSettings {
  /** Keep offline messages at all (`enabled = yes`). Default: true. */
  readonly enabled: boolean;
  /** Messages waiting for one recipient (`max-messages`). Default: 1 000. */
  readonly maxPerRecipient: number;
  /** Bytes waiting for one recipient (`max-bytes`). Default: 1 MiB. */
  readonly maxBytesPerRecipient: number;
  /** Messages waiting from one sender, to all recipients (`max-per-sender`). Default: 1 000. */
  readonly maxPerSender: number;
  /** Bytes waiting from one sender (`max-bytes-per-sender`). Default: 1 MiB. */
  readonly maxBytesPerSender: number;
  /** Longest sealed message, bytes (`max-message-bytes`). Default: 4 096. */
  readonly maxMessageBytes: number;
  /** A message not fetched this long is deleted, ms (`ttl`, in seconds there). Default: 14 days. */
  readonly ttlMs: number;
  /** Deposits of several parts under way at once (`max-partial`). Default: 1 000. */
  readonly maxPartial: number;
  /** A deposit's parts must all arrive within this, ms (`partial-timeout`, seconds). Default: 30 s. */
  readonly partialTimeoutMs: number;
}

/** The defaults of `[mailbox]`. */
export const mailboxDefaults: MailboxSettings = {
  enabled: true,
  maxPerRecipient: 1_000,
  maxBytesPerRecipient: 1 << 20,
  maxPerSender: 1_000,
  maxBytesPerSender: 1 << 20,
  maxMessageBytes: 4_096,
  ttlMs: 14 * 24 * 3_600_000,
  maxPartial: 1_000,
  partialTimeoutMs: 30_000,
};

/** The keys of `[mailbox]`, to the setting each sets and its unit (ms settings are given in seconds). */
export const MAILBOX_KEYS = {
  "max-messages": "maxPerRecipient",
  "max-bytes": "maxBytesPerRecipient",
  "max-per-sender": "maxPerSender",
  "max-bytes-per-sender": "maxBytesPerSender",
  "max-message-bytes": "maxMessageBytes",
  "ttl": "ttlMs",
  "max-partial": "maxPartial",
  "partial-timeout": "partialTimeoutMs",
} as const satisfies Record<string, Exclude<keyof MailboxSettings, "enabled">>;

/** Ranges of the numeric keys: [min, max, multiplier to the setting's unit]. */
const RANGES: Record<keyof typeof MAILBOX_KEYS, [number, number, number]> = {
  "max-messages": [0, 10_000_000, 1],
  "max-bytes": [0, 2 ** 40, 1],
  "max-per-sender": [0, 10_000_000, 1],
  "max-bytes-per-sender": [0, 2 ** 40, 1],
  "max-message-bytes": [200, 65_536, 1],
  "ttl": [1, 10 * 365 * 86_400, 1_000],
  "max-partial": [1, 1_000_000, 1],
  "partial-timeout": [1, 3_600, 1_000],
};

/**
 * Read one `key = value` of `[mailbox]` into `draft`. Returns the problem in
 * words, or `undefined` when the setting was taken.
 */
export function readMailboxSetting(
  draft: { -readonly [K in keyof MailboxSettings]?: MailboxSettings[K] },
  key: string,
  value: string,
): string | undefined {
  if (key === "enabled") {
    const enabled = parseYesNo(value);
    if (enabled === undefined) return yesNoProblem(key, value);
    draft.enabled = enabled;
    return undefined;
  }
  if (!Object.hasOwn(MAILBOX_KEYS, key)) {
    return `unknown mailbox setting "${key}" (known: enabled, ${
      Object.keys(MAILBOX_KEYS).join(", ")
    })`;
  }
  const name = key as keyof typeof MAILBOX_KEYS;
  const [min, max, unit] = RANGES[name];
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) return `${key} must be a whole number ${min}-${max}`;
  draft[MAILBOX_KEYS[name]] = n * unit;
  return undefined;
}
