/**
 * `nodelumi.cfg`: the node's configuration, in either of two forms.
 *
 * **Original form** (read as the original node reads it): whitespace-separated
 * words, the first the domain, every other one a user name.
 * ```
 * bb.com laura joan
 * ```
 *
 * **INI form** (ours), recognised by a `[section]` line or a `key = value` line:
 * ```ini
 * domain = bb.com            ; default: the machine's DNS name
 * listen = 127.0.0.1:3344    ; default: 0.0.0.0:3344
 * log = nodelumi-bb.com.log  ; "off" to disable; default: nodelumi-<domain>.log
 * state = nodelumi-bb.com.state ; registrations kept across restarts; "off" to disable
 * dns-server = 127.0.0.1:5353   ; default: the system's resolver
 *
 * [limits]
 * offline-after = 5          ; the Nth unanswered look-up in a row is answered RL3 (user offline)
 * exempt = 127.0.0.1         ; never banned, but served at most exempt-limit per window
 * exempt-limit = 20000       ; default: 100 × rate-limit
 *
 * [domains]                  ; static domain-to-node map, checked before DNS
 * cc.com = 127.0.0.3:3344
 *
 * [log]                      ; the packet log's rotation, and the operational log
 * max-size = 100M            ; rotate the packet log at this size (k, M, G); default: never
 * keep = 5                   ; rotated files kept (log.1 … log.5); default: 5
 * ops = nodelumi-bb.com-ops.log ; operational log; "off" to disable; default: nodelumi-<domain>-ops.log
 * format = text              ; the operational log's lines: text or json; default: text
 *
 * [metrics]                  ; Prometheus metrics over HTTP; off unless listen is set
 * listen = 127.0.0.1:9464
 *
 * [mailbox]                  ; offline messages (docs/OPERATIONS.md); the defaults below
 * max-messages = 1000        ; waiting per recipient; max-bytes = 1048576 likewise
 * ttl = 1209600              ; s a message waits for its recipient (14 days)
 *
 * [cluster]                  ; one domain on several nodes sharing Redis; off unless set
 * redis = redis://127.0.0.1:6379 ; or a Unix socket path, /run/redis/redis.sock
 *
 * [users]                    ; one user name per line
 * laura
 * joan
 * ```
 * Comments start with `;` or `#`. User names follow the one rule of PLUMI
 * addresses (`isValidName`, `lib/plumi/address.ts`), which leaves out `=`, `#`,
 * `[` and `]`, so every name the console accepts is read back as itself.
 * Pure: parsing and rendering only; see `config_file.ts` for the disk.
 *
 * @module
 */

import { parseSize } from "../log_file.ts";
import {
  type Endpoint,
  isValidDomain,
  parseEndpoint,
  parseIp,
  PROBE_NAME,
  userNameProblem,
} from "../plumi/address.ts";
import { NameTable } from "./name_table.ts";
import {
  finishRelayConfig,
  readRelaySetting,
  type RelayConfig,
  type RelayConfigDraft,
} from "./relay_config.ts";
import { type MailboxSettings, readMailboxSetting } from "./mailbox_settings.ts";
import { parseYesNo, yesNoProblem } from "./config_values.ts";

/** The node's configuration as read from `nodelumi.cfg`. */
export interface NodeConfig {
  /** Which form the file is in; admin changes are saved in the same form. */
  readonly format: "original" | "ini";
  /** The domain; `undefined` when the file names none (then the machine's DNS name). */
  readonly domain: string | undefined;
  /** User names of the domain, without `@domain`, in file order. */
  readonly users: readonly string[];
  /** UDP address to listen on. */
  readonly listen?: Endpoint;
  /** Packet log path, or `false` when disabled. */
  readonly log?: string | false;
  /** Registration state path, or `false` when disabled. */
  readonly state?: string | false;
  /** DNS server for resolving other domains' nodes. */
  readonly dnsServer?: Endpoint;
  /** Unanswered forwarded look-ups before a user is marked offline. */
  readonly offlineAfter?: number;
  /** Static domain-to-node map (lower-case domains). */
  readonly domains: ReadonlyMap<string, Endpoint>;
  /** Other numeric limits of `[limits]` (see {@linkcode LIMITS}); absent ones take their defaults. */
  readonly limits?: Partial<Record<LimitName, number>>;
  /** Source IPs never banned, with the larger budget `exempt-limit` (`[limits] exempt = ip ip …`); none unless named. */
  readonly exempt?: readonly string[];
  /** `[accounts]`: the account database and the extensions' switches. */
  readonly accounts?: AccountsConfig;
  /** `[log]`: rotation of the packet log, and the operational log. */
  readonly logging?: LogConfig;
  /** `[metrics]`: the Prometheus endpoint. */
  readonly metrics?: MetricsConfig;
  /** `[relay]`: the relay for agents behind NAT (`relay_config.ts`); off unless enabled. */
  readonly relay?: RelayConfig;
  /** `[mailbox]`: the bounds of offline messages (`mailbox_settings.ts`); defaults when absent. */
  readonly mailbox?: Partial<MailboxSettings>;
  /** `[cluster]`: the Redis a clustered domain's nodes share (`redis_directory.ts`); none by default. */
  readonly cluster?: { readonly redis: string };
}

/** The `[log]` section. */
export interface LogConfig {
  /** Rotate the packet log at this many bytes. Default: never. */
  readonly maxSize?: number;
  /** Rotated packet logs kept. Default: 5. */
  readonly keep?: number;
  /** The operational log's path, or `false`. Default: `nodelumi-<domain>-ops.log`. */
  readonly ops?: string | false;
  /** The operational log's lines. Default: text. */
  readonly format?: "text" | "json";
}

/** The `[metrics]` section. */
export interface MetricsConfig {
  /** TCP address of the HTTP endpoint (`/metrics`). */
  readonly listen: Endpoint;
}

/** The numeric limits of `[limits]`, with their ranges. */
export const LIMITS = {
  /** The Nth forwarded look-up in a row left unanswered is answered RL3, and the user is offline. */
  "offline-after": [1, 1000],
  /** Datagrams per window from one IP before a ban; 0 turns rate limiting off. */
  "rate-limit": [0, 1_000_000],
  /** The rate-limit window, in ms. */
  "rate-window": [10, 60_000],
  /** How long a flooding source is ignored, in seconds. */
  ban: [0, 86_400],
  /** Heartbeat interval asked of extended agents, in seconds. */
  heartbeat: [1, 3600],
  /** Original agents' registrations expire after this many seconds without a new PR; 0 never. */
  "expire-original": [0, 31_536_000],
  /** Most buddies per user. */
  "max-buddies": [1, 10_000],
  /** Datagrams per window served from each `exempt` source (never banned; the excess is dropped). Default: 100 × rate-limit. */
  "exempt-limit": [1, 100_000_000],
} as const satisfies Record<string, readonly [number, number]>;

/** A key of {@linkcode LIMITS}. */
export type LimitName = keyof typeof LIMITS;

/** The `[accounts]` section. */
export interface AccountsConfig {
  /** SQLite file of accounts, passwords and buddies, or `false` to run without extensions. */
  readonly database?: string | false;
  /** Anyone may sign up. Default: no. */
  readonly openSignup?: boolean;
  /** Accounts one source IP may create per hour; 0 for no bound. Default: 10. */
  readonly signupsPerHour?: number;
  /** Registered users may list who is online. Default: yes. */
  readonly onlineList?: boolean;
}

/** A configuration file that cannot be used, with the line at fault. */
export class ConfigError extends SyntaxError {
  /** 1-based line number, or 0 when the whole file is at fault. */
  readonly line: number;
  /** Why, without the file and line. */
  readonly reason: string;

  /** The message is `[file: ][line N: ]reason`. */
  constructor(line: number, reason: string, options?: ErrorOptions & { file?: string }) {
    const where = `${options?.file ? `${options.file}: ` : ""}${line > 0 ? `line ${line}: ` : ""}`;
    super(`${where}${reason}`, options);
    this.name = "ConfigError";
    this.line = line;
    this.reason = reason;
  }
}

const SECTION = /^\s*\[([^\]]*)\]\s*$/;
// Keys are setting names, or domain names in [domains] (so dots are allowed).
const KEY_VALUE = /^\s*([A-Za-z0-9_][\w.-]*)\s*=\s*(.*?)\s*$/;

function stripComment(line: string): string {
  const match = line.match(/(^|\s)[;#]/);
  return match?.index === undefined ? line : line.slice(0, match.index);
}

/** Does this text look like the INI form? (Line by line, without splitting a long file.) */
export function isIniForm(text: string): boolean {
  for (let start = 0; start <= text.length;) {
    const end = text.indexOf("\n", start);
    const raw = text.slice(start, end < 0 ? text.length : end).replace(/\r$/, "");
    const line = stripComment(raw);
    if (SECTION.test(line) || KEY_VALUE.test(line)) return true;
    if (end < 0) break;
    start = end + 1;
  }
  return false;
}

/**
 * A `[users]` line that is one valid user name and nothing else (no space,
 * comment or bracket): the common case, checked in one test at start-up.
 */
const PLAIN_USER_LINE = /^[!"$-9<>?A-Z\\^-~]{1,64}$/;

/** Parse a configuration file's text. Throws {@linkcode ConfigError}. */
export function parseConfig(text: string): NodeConfig {
  return isIniForm(text) ? parseIni(text) : parseOriginal(text);
}

/** Add user `name` to `users` (whose names `seen` finds), if valid and not listed yet. */
function addUser(name: string, line: number, users: string[], seen: NameTable): void {
  const problem = userNameProblem(name);
  if (problem !== undefined) throw new ConfigError(line, problem);
  addPlainUser(name, line, users, seen);
}

/** Add `name`, known to be a valid user name, to `users`, unless it is listed already. */
function addPlainUser(name: string, line: number, users: string[], seen: NameTable): void {
  users.push(name);
  if (seen.addIfAbsent(name, users.length - 1) >= 0) {
    throw new ConfigError(line, `user "${name}" is listed twice`);
  }
}

function checkDomain(domain: string, line: number): string {
  if (!isValidDomain(domain)) throw new ConfigError(line, `"${domain}" is not a valid domain name`);
  return domain;
}

function parseOriginal(text: string): NodeConfig {
  let domain: string | undefined;
  const users: string[] = [];
  const seen = new NameTable(users);
  text.split(/\r?\n/).forEach((raw, index) => {
    for (const word of stripComment(raw).split(/\s+/)) {
      if (word === "") continue;
      if (domain === undefined) domain = checkDomain(word, index + 1);
      else addUser(word, index + 1, users, seen);
    }
  });
  return { format: "original", domain, users, domains: new Map() };
}

function endpointValue(value: string, line: number, key: string): Endpoint {
  const parsed = parseEndpoint(value, { allowPortZero: key === "listen" });
  if (!parsed.ok) throw new ConfigError(line, `${key}: ${parsed.message} (expected IPv4:port)`);
  return parsed.value;
}

function yesNo(value: string, line: number, key: string): boolean {
  const yes = parseYesNo(value);
  if (yes === undefined) throw new ConfigError(line, yesNoProblem(key, value));
  return yes;
}

function pathValue(value: string, line: number, key: string): string | false {
  if (value === "") throw new ConfigError(line, `${key} needs a file name, or "off"`);
  return value === "off" ? false : value;
}

function parseIni(text: string): NodeConfig {
  let section = "";
  let domain: string | undefined;
  let listen: Endpoint | undefined;
  let log: string | false | undefined;
  let state: string | false | undefined;
  let dnsServer: Endpoint | undefined;
  let offlineAfter: number | undefined;
  const users: string[] = [];
  // Sized for a file of users, so that a million of them are not hashed again at every doubling.
  const seen = new NameTable(users, Math.ceil(text.length / 10));
  const domains = new Map<string, Endpoint>();
  const limits: Partial<Record<LimitName, number>> = {};
  const accounts: {
    database?: string | false;
    openSignup?: boolean;
    signupsPerHour?: number;
    onlineList?: boolean;
  } = {};
  let exempt: string[] | undefined;
  const logging: {
    maxSize?: number;
    keep?: number;
    ops?: string | false;
    format?: "text" | "json";
  } = {};
  let metrics: MetricsConfig | undefined;
  let cluster: { redis: string } | undefined;
  let relay: RelayConfigDraft | undefined;
  let mailbox: { -readonly [K in keyof MailboxSettings]?: MailboxSettings[K] } | undefined;

  text.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    if (section === "users" && PLAIN_USER_LINE.test(raw) && raw !== PROBE_NAME) {
      addPlainUser(raw, lineNo, users, seen);
      return;
    }
    const line = stripComment(raw);
    if (line.trim() === "") return;
    const header = line.match(SECTION);
    if (header) {
      section = header[1]!.trim().toLowerCase();
      if (
        ![
          "",
          "node",
          "limits",
          "domains",
          "users",
          "accounts",
          "log",
          "metrics",
          "relay",
          "mailbox",
          "cluster",
        ]
          .includes(section)
      ) {
        throw new ConfigError(
          lineNo,
          `unknown section [${section}] (known: node, limits, accounts, log, metrics, relay, mailbox, cluster, domains, users)`,
        );
      }
      if (section === "relay") relay ??= { limits: {} };
      if (section === "mailbox") mailbox ??= {};
      return;
    }
    if (section === "users") {
      for (const word of line.trim().split(/\s+/)) addUser(word, lineNo, users, seen);
      return;
    }
    const pair = line.match(KEY_VALUE);
    if (!pair) throw new ConfigError(lineNo, `expected "key = value", got "${raw.trim()}"`);
    const key = pair[1]!.toLowerCase();
    const value = pair[2]!;
    if (section === "domains") {
      domains.set(
        checkDomain(pair[1]!, lineNo).toLowerCase(),
        endpointValue(value, lineNo, pair[1]!),
      );
      return;
    }
    if (section === "limits") {
      if (key === "exempt") {
        const ips = value.split(/[\s,]+/).filter(Boolean);
        for (const ip of ips) {
          if (!parseIp(ip).ok) {
            throw new ConfigError(lineNo, `exempt: "${ip}" is not an IPv4 address`);
          }
        }
        exempt = ips;
        return;
      }
      if (!Object.hasOwn(LIMITS, key)) {
        throw new ConfigError(
          lineNo,
          `unknown limit "${key}" (known: ${Object.keys(LIMITS).join(", ")}, exempt)`,
        );
      }
      const [min, max] = LIMITS[key as LimitName];
      const n = /^\d+$/.test(value) ? Number(value) : NaN;
      if (!(n >= min && n <= max)) {
        throw new ConfigError(lineNo, `${key} must be a whole number ${min}-${max}`);
      }
      if (key === "offline-after") offlineAfter = n;
      else limits[key as LimitName] = n;
      return;
    }
    if (section === "log") {
      if (key === "max-size") {
        const n = parseSize(value);
        if (n === undefined || n < 4096) {
          throw new ConfigError(
            lineNo,
            `max-size must be a size of 4k or more, like 100M, got "${value}"`,
          );
        }
        logging.maxSize = n;
      } else if (key === "keep") {
        const n = /^\d+$/.test(value) ? Number(value) : NaN;
        if (!(n <= 1000)) throw new ConfigError(lineNo, `keep must be a whole number 0-1000`);
        logging.keep = n;
      } else if (key === "ops") logging.ops = pathValue(value, lineNo, key);
      else if (key === "format") {
        if (value !== "text" && value !== "json") {
          throw new ConfigError(lineNo, `format must be text or json, got "${value}"`);
        }
        logging.format = value;
      } else {
        throw new ConfigError(
          lineNo,
          `unknown log setting "${key}" (known: max-size, keep, ops, format)`,
        );
      }
      return;
    }
    if (section === "metrics") {
      if (key !== "listen") {
        throw new ConfigError(lineNo, `unknown metrics setting "${key}" (known: listen)`);
      }
      metrics = { listen: endpointValue(value, lineNo, "listen") };
      return;
    }
    if (section === "cluster") {
      if (key !== "redis" || !/^(rediss?:\/\/\S+|\/\S+)$/.test(value)) {
        throw new ConfigError(
          lineNo,
          `[cluster] takes redis = redis://host:port or a Unix socket path, got "${
            pair[0]!.trim()
          }"`,
        );
      }
      cluster = { redis: value };
      return;
    }
    if (section === "relay") {
      const problem = readRelaySetting(relay!, key, value);
      if (problem) throw new ConfigError(lineNo, problem);
      return;
    }
    if (section === "mailbox") {
      const problem = readMailboxSetting(mailbox!, key, value);
      if (problem) throw new ConfigError(lineNo, problem);
      return;
    }
    if (section === "accounts") {
      if (key === "database") accounts.database = pathValue(value, lineNo, key);
      else if (key === "open-signup") accounts.openSignup = yesNo(value, lineNo, key);
      else if (key === "online-list") accounts.onlineList = yesNo(value, lineNo, key);
      else if (key === "signups-per-hour") {
        const n = /^\d+$/.test(value) ? Number(value) : NaN;
        if (!(n <= 1_000_000)) {
          throw new ConfigError(lineNo, `${key} must be a whole number 0-1000000`);
        }
        accounts.signupsPerHour = n;
      } else {
        throw new ConfigError(
          lineNo,
          `unknown account setting "${key}" (known: database, open-signup, signups-per-hour, online-list)`,
        );
      }
      return;
    }
    switch (key) {
      case "domain":
        domain = checkDomain(value, lineNo);
        break;
      case "listen":
        listen = endpointValue(value, lineNo, key);
        break;
      case "log":
        log = pathValue(value, lineNo, key);
        break;
      case "state":
        state = pathValue(value, lineNo, key);
        break;
      case "dns-server":
        dnsServer = endpointValue(value, lineNo, key);
        break;
      default:
        throw new ConfigError(
          lineNo,
          `unknown setting "${key}" (known: domain, listen, log, state, dns-server)`,
        );
    }
  });
  const relayConfig = relay && finishRelayConfig(relay);
  if (typeof relayConfig === "string") throw new ConfigError(0, `[relay]: ${relayConfig}`);
  return {
    format: "ini",
    domain,
    users,
    domains,
    ...(listen && { listen }),
    ...(log !== undefined && { log }),
    ...(state !== undefined && { state }),
    ...(dnsServer && { dnsServer }),
    ...(offlineAfter !== undefined && { offlineAfter }),
    ...(Object.keys(limits).length > 0 && { limits }),
    ...(exempt && { exempt }),
    ...(Object.keys(accounts).length > 0 && { accounts }),
    ...(Object.keys(logging).length > 0 && { logging }),
    ...(metrics && { metrics }),
    ...(cluster && { cluster }),
    ...(relayConfig && { relay: relayConfig }),
    ...(mailbox && { mailbox }),
  };
}

/**
 * Render the file again with a new user list, in the form it was read in.
 * The original form is rewritten whole (domain first, one user per line);
 * in the INI form only the user names of the `[users]` section are replaced:
 * settings, and comment and blank lines anywhere, are kept. The new list goes
 * where the old one began (after the comment lines right under `[users]`).
 */
export function renderConfig(
  originalText: string,
  format: "original" | "ini",
  domain: string,
  users: Iterable<string>,
): string {
  const list = [...users];
  if (format === "original") return [domain, ...list].join("\n") + "\n";
  const lines = originalText.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  const out: string[] = [];
  let inUsers = false;
  let wrote = false;
  // The list is due: set at the first [users] header, written before its first user or blank line.
  let due = false;
  // A loop, not push(...list): a spread of a million names overflows the call stack.
  const putList = () => {
    for (const name of list) out.push(name);
  };
  for (const line of lines) {
    const content = stripComment(line);
    const header = content.match(SECTION);
    if (header) {
      if (due) putList();
      due = false;
      inUsers = header[1]!.trim().toLowerCase() === "users";
      out.push(line);
      if (inUsers && !wrote) due = wrote = true;
      continue;
    }
    if (!inUsers) {
      out.push(line);
      continue;
    }
    const isComment = content.trim() === "" && line.trim() !== "";
    if (due && !isComment) {
      putList();
      due = false;
    }
    // User names are replaced by the list; comment and blank lines stay.
    if (content.trim() === "") out.push(line);
  }
  if (due) putList();
  if (!wrote) {
    out.push("", "[users]");
    putList();
  }
  return out.join("\n") + "\n";
}
