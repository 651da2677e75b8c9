/**
 * The `[relay]` section of `nodelumi.cfg` (off by default):
 *
 * ```ini
 * [relay]
 * enabled = yes              ; default: no
 * listen = 0.0.0.0:3345      ; TCP; default: the node's UDP IP, port 3345 (0 picks a free one)
 * advertise = 203.0.113.1    ; the IP agents are told to connect to; default: the listen IP
 * max-sessions = 64          ; sessions at once, waiting or joined
 * max-per-user = 4           ; sessions one user takes part in at once
 * max-per-domain = 16        ; sessions at once for callers of one other domain
 * max-bytes = 16777216       ; bytes per session, both ways together
 * idle = 120                 ; s without a byte either way before a session is cut
 * pair-timeout = 15          ; s for both agents to arrive after the request
 * hello-timeout = 5          ; s for a connection to present its key
 * ```
 * Pure: parsing only.
 *
 * @module
 */

import { type Endpoint, parseEndpoint, parseIp } from "../plumi/address.ts";
import type { RelayLimits } from "./relay_sessions.ts";
import { parseYesNo, yesNoProblem } from "./config_values.ts";

/** The `[relay]` section. */
export interface RelayConfig {
  /** Whether the node offers a relay. Default: no. */
  readonly enabled?: boolean;
  /** The TCP address it listens on. Default: the node's UDP IP, port 3345. */
  readonly listen?: Endpoint;
  /** The IP offered to agents. Default: the listen IP (required when that is 0.0.0.0). */
  readonly advertise?: string;
  /** Bounds, in the units of {@linkcode RelayLimits} (ms, bytes). */
  readonly limits?: Partial<RelayLimits>;
}

/** The relay's default TCP port. */
export const DEFAULT_RELAY_PORT = 3345;

/** Numeric settings: key → [limit field, min, max, multiplier to the field's unit]. */
const NUMBERS: Record<string, [keyof RelayLimits, number, number, number]> = {
  "max-sessions": ["maxSessions", 1, 100_000, 1],
  "max-per-user": ["perUser", 1, 1_000, 1],
  "max-per-domain": ["perDomain", 1, 100_000, 1],
  "max-bytes": ["maxBytes", 1_024, 2 ** 40, 1],
  idle: ["idleMs", 1, 86_400, 1_000],
  "pair-timeout": ["pairMs", 1, 600, 1_000],
  "hello-timeout": ["helloMs", 1, 600, 1_000],
};

/** Why a `[relay]` line cannot be used. */
export type RelaySettingProblem = string;

/** A `[relay]` being read: `enabled`, `listen`, `advertise` and the limits. */
export interface RelayConfigDraft {
  enabled?: boolean;
  listen?: Endpoint;
  advertise?: string;
  limits: Partial<Record<keyof RelayLimits, number>>;
}

/**
 * Read one `key = value` of `[relay]` into `draft`. Returns the problem, or
 * `undefined` when the setting was taken.
 */
export function readRelaySetting(
  draft: RelayConfigDraft,
  key: string,
  value: string,
): RelaySettingProblem | undefined {
  if (key === "enabled") {
    const enabled = parseYesNo(value);
    if (enabled === undefined) return yesNoProblem(key, value);
    draft.enabled = enabled;
    return undefined;
  }
  if (key === "listen") {
    const parsed = parseEndpoint(value, { allowPortZero: true });
    if (!parsed.ok) return `listen: ${parsed.message} (expected IPv4:port)`;
    draft.listen = parsed.value;
    return undefined;
  }
  if (key === "advertise") {
    if (!parseIp(value).ok || value === "0.0.0.0") {
      return `advertise: "${value}" is not an IPv4 address agents can reach`;
    }
    draft.advertise = value;
    return undefined;
  }
  const number = NUMBERS[key];
  if (!number) {
    return `unknown relay setting "${key}" (known: enabled, listen, advertise, ${
      Object.keys(NUMBERS).join(", ")
    })`;
  }
  const [field, min, max, unit] = number;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) return `${key} must be a whole number ${min}-${max}`;
  draft.limits[field] = n * unit;
  return undefined;
}

/** The finished section, or the problem with it as a whole. */
export function finishRelayConfig(draft: RelayConfigDraft): RelayConfig | RelaySettingProblem {
  if (draft.enabled && draft.listen?.ip === "0.0.0.0" && draft.advertise === undefined) {
    return "listen is 0.0.0.0: give advertise = <the IP agents connect to>";
  }
  return {
    ...(draft.enabled !== undefined && { enabled: draft.enabled }),
    ...(draft.listen && { listen: draft.listen }),
    ...(draft.advertise && { advertise: draft.advertise }),
    ...(Object.keys(draft.limits).length > 0 && { limits: draft.limits }),
  };
}

/** Where the relay listens and what it offers, from the section and the node's UDP endpoint. */
export function relayAddresses(
  config: RelayConfig,
  udp: Endpoint,
): { listen: Endpoint; advertise: string | undefined } {
  const listen = config.listen ?? { ip: udp.ip, port: DEFAULT_RELAY_PORT };
  const advertise = config.advertise ?? (listen.ip === "0.0.0.0" ? undefined : listen.ip);
  return { listen, advertise };
}
