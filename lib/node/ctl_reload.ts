/**
 * Reload (SIGHUP, `ctl reload`, the console's `reload`): reopen the logs
 * (so logrotate works), read `nodelumi.cfg` again, take in what can change
 * while the node runs — the users, and the rate limits — and name what
 * takes effect only at the next start. Registrations and sessions are not
 * touched.
 *
 * @module
 */

import type { ConfigStore } from "./config_file.ts";
import { loadConfig } from "./config_file.ts";
import type { AccountsConfig, NodeConfig } from "./config.ts";
import { RateLimiter, type Verdict } from "./rate_limit.ts";

/** The rate limiter a configuration asks for (`undefined`: rate limiting off). */
export function limiterFor(config: NodeConfig): RateLimiter | undefined {
  const limits = config.limits ?? {};
  const rate = limits["rate-limit"] ?? 200;
  if (rate <= 0) return undefined;
  return new RateLimiter({
    limit: rate,
    windowMs: limits["rate-window"] ?? 1_000,
    banMs: (limits.ban ?? 10) * 1000,
    // Only what the configuration names: `exempt`, and the nodes of the static map (other
    // domains' traffic arrives from them). Exempt is not unlimited: see `exempt-limit`.
    exempt: [...(config.exempt ?? []), ...[...config.domains.values()].map((e) => e.ip)],
    ...(limits["exempt-limit"] !== undefined && { exemptLimit: limits["exempt-limit"] }),
  });
}

/** A rate limiter whose settings a reload can replace (the bans so far go with the old one). */
export class LiveLimiter extends RateLimiter {
  #inner: RateLimiter | undefined;

  constructor(inner: RateLimiter | undefined) {
    super();
    this.#inner = inner;
  }

  /** Use `inner` from now on (`undefined`: every datagram passes). */
  replace(inner: RateLimiter | undefined): void {
    this.#inner = inner;
  }

  /** The verdict of the limiter in use. */
  override check(ip: string, now: number): Verdict {
    return this.#inner === undefined ? "pass" : this.#inner.check(ip, now);
  }
}

/** What a reload works on. */
export interface ReloadParts {
  /** The configuration file (its user list is saved through it). */
  readonly store: ConfigStore;
  /** The configuration the node runs with. */
  readonly config: NodeConfig;
  /** Logs to reopen (packet log, operational log). */
  readonly logs: readonly { reopen(): Promise<void> }[];
  /** The rate limiter, replaced when `[limits]` change. */
  readonly limiter?: LiveLimiter;
  /** The extensions, given the live `[accounts]` settings when they change. */
  readonly accounts?: { applyLive(settings: AccountsConfig): void };
  /** The offline messages, given the `[mailbox]` bounds when they change (`lib/node/mailbox.ts`). */
  readonly mailbox?: { apply(settings: NonNullable<NodeConfig["mailbox"]>): void };
}

/** The settings that take effect while the node runs. */
const LIVE_LIMITS = ["rate-limit", "rate-window", "ban", "exempt-limit"] as const;

/** The `[accounts]` settings that take effect while the node runs (with the extensions on). */
const LIVE_ACCOUNTS = ["open-signup", "signups-per-hour", "online-list"] as const;

/** Each setting's value, by the name an operator knows it by. */
function settings(config: NodeConfig): Map<string, string> {
  const out = new Map<string, string>();
  const put = (name: string, value: unknown) => {
    if (value !== undefined) out.set(name, JSON.stringify(value));
  };
  put("listen", config.listen);
  put("log", config.log);
  put("state", config.state);
  put("dns-server", config.dnsServer);
  put("[limits] offline-after", config.offlineAfter);
  for (const [key, value] of Object.entries(config.limits ?? {})) put(`[limits] ${key}`, value);
  put("[limits] exempt", config.exempt);
  put("[domains]", [...config.domains].sort());
  for (const [key, value] of Object.entries(config.accounts ?? {})) {
    put(`[accounts] ${kebab(key)}`, value);
  }
  for (const [key, value] of Object.entries(config.logging ?? {})) {
    put(`[log] ${kebab(key)}`, value);
  }
  put("[metrics] listen", config.metrics?.listen);
  put("[mailbox]", config.mailbox ?? {});
  return out;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * A reload function for the console's target: reopens the logs, then reads
 * the file (rejecting, with nothing changed, when it cannot be used). Its
 * note says which changed settings were applied and which wait for a restart.
 */
export function createReload(
  parts: ReloadParts,
): () => Promise<{ users: readonly string[]; note?: string }> {
  let current = parts.config;
  return async () => {
    for (const log of parts.logs) await log.reopen();
    const { users } = await parts.store.reload();
    // The store has checked the file; read its settings too.
    const { config } = await loadConfig(parts.store.path);
    const was = settings(current);
    const now = settings(config);
    const changed = [...new Set([...was.keys(), ...now.keys()])]
      .filter((k) => was.get(k) !== now.get(k));
    const liveLimits = changed.filter((k) =>
      (LIVE_LIMITS as readonly string[]).some((l) => k === `[limits] ${l}`) ||
      k === "[limits] exempt"
    );
    const liveAccounts = parts.accounts
      ? changed.filter((k) =>
        (LIVE_ACCOUNTS as readonly string[]).some((a) => k === `[accounts] ${a}`)
      )
      : [];
    const liveMailbox = parts.mailbox ? changed.filter((k) => k === "[mailbox]") : [];
    const live = [...liveLimits, ...liveAccounts, ...liveMailbox];
    const later = changed.filter((k) => !live.includes(k));
    if (liveLimits.length > 0) parts.limiter?.replace(limiterFor(config));
    if (liveAccounts.length > 0) parts.accounts?.applyLive(config.accounts ?? {});
    if (liveMailbox.length > 0) parts.mailbox?.apply(config.mailbox ?? {});
    current = config;
    const lines: string[] = [];
    if (parts.logs.length > 0) lines.push("Logs reopened.");
    if (live.length > 0) lines.push(`Applied: ${live.join(", ")}.`);
    if (later.length > 0) {
      lines.push(
        `Not applied until the next start (they cannot change while the node runs): ${
          later.join(", ")
        }.`,
      );
    }
    return { users, ...(lines.length > 0 && { note: lines.join("\n") }) };
  };
}
