/**
 * {@linkcode AgentOptions}: everything {@linkcode runAgent} can be told, with
 * a documented default on every field, and their validation (done before any I/O).
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import { systemClock } from "../clock.ts";
import { type Endpoint, parseAddress, parseIp } from "../plumi/address.ts";
import { MAX_PACKET_BYTES } from "../plumi/messages.ts";
import { MAX_INFO_BYTES } from "../pmi/frame.ts";
import type { DnsClient } from "../transport/dns.ts";
import { connectTcp, listenTcp, type StreamConn, type StreamListener } from "../transport/tcp.ts";
import { bindUdp, type DatagramSocket } from "../transport/udp.ts";
import type { InterfaceAddress } from "./node/advertise.ts";
import { diskKeyFiles, type KeyFiles } from "./chat/keyring.ts";
import { UsageError } from "./errors.ts";
import { problem, why } from "./terminal/texts.ts";
import { type LogSink, openFileSink } from "../packet_log.ts";
import type { AgentUi } from "./terminal/ui.ts";
import { logFileIn } from "./profile.ts";

/** The sockets the agent opens, injectable for tests. Default: `lib/transport`. */
export interface AgentTransport {
  /** Bind the PLUMI UDP socket. */
  bindUdp(at: Endpoint): DatagramSocket;
  /** Listen for PMI conversations. */
  listenTcp(at: Endpoint): StreamListener;
  /** Open a PMI conversation. */
  connectTcp(to: Endpoint, timeoutMs: number): Promise<StreamConn>;
}

/** Options of {@linkcode runAgent}. */
export interface AgentOptions {
  /** The user's @MI address, e.g. `laura@bb.com`. Default: asked on a TTY; required otherwise. */
  readonly address?: string;
  /** The nickname peers see (1–99 bytes). Default: asked on a TTY; required otherwise. */
  readonly nick?: string;
  /** TCP port for conversations (the @sckMI port); 0 picks a free one. Default: 0. */
  readonly port?: number;
  /**
   * Local IP the conversation and group listeners bind. Default: the advertised IP (only the
   * address peers are told of), or every interface (`0.0.0.0`) when that is not an address of
   * this host (behind NAT).
   */
  readonly listenIp?: string;
  /** The node's UDP endpoint. Default: found by {@linkcode locateNode} (DNS SRV, then A record with port 3344). */
  readonly node?: Endpoint;
  /** The IP advertised in `RL0` answers. Default: {@linkcode chooseAdvertiseIp} towards the node. */
  readonly advertise?: string;
  /** DNS client used to find the node. Default: `systemDns()`, created only when needed. */
  readonly dns?: DnsClient;
  /**
   * Packet log path, or `false` for none. Default: `<dataDir>/logs/<address>.log`
   * ({@linkcode defaultLogFile}).
   */
  readonly logFile?: string | false;
  /** The data folder (`profile.ts`): the packet logs go to its `logs/`. Default: none. */
  readonly dataDir?: string;
  /**
   * Called once the address and nickname are settled (given or asked), to save a new profile;
   * resolves with a line to show, if any. Default: none.
   */
  readonly saveProfile?: (address: string, nick: string) => Promise<string | undefined>;
  /** Opens the packet log. Default: append to the file (created if missing). */
  readonly openLog?: (path: string) => Promise<LogSink>;
  /** Packet log flush interval, ms. Default: 250. */
  readonly logFlushMs?: number;
  /** Resend a PLUMI request after this many ms without an answer. Default: 1000. */
  readonly retryIntervalMs?: number;
  /** Send a PLUMI request at most this many times. Default: 5. */
  readonly attempts?: number;
  /** Drop an incoming or outgoing connection whose handshake (nicknames; for group links also the join request and its answer) is not over within this many ms. Default: 10000. */
  readonly nickTimeoutMs?: number;
  /** Give up a TCP connection attempt after this many ms. Default: 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * Calls through the relay of the callee's node (`[relay]`): `fallback` when the direct
   * connection fails, `always` (peers never learn each other's IP), or `off`. Default: `fallback`.
   */
  readonly relay?: RelayMode;
  /**
   * The history file (SQLite, `history/`), or `false` for none. Default:
   * `<dataDir>/<address>.history.db` (one per identity: several agents may
   * share a data folder), none without a data folder.
   */
  readonly historyFile?: string | false;
  /**
   * Serve the web page (`--web`, `web/`) on this address: loopback unless given otherwise (then
   * the agent warns). Default: no page.
   */
  readonly web?: Endpoint;
  /** Most one-to-one conversations at once; past it, look-ups are answered `RL1` (busy). Default: 8. */
  readonly maxChats?: number;
  /** Most groups at once; 0 switches groups off (no group port, no `g=` feature). Default: 4. */
  readonly maxGroups?: number;
  /** Most members of a group, this agent and relayed original agents included (2–64). Default: 16. */
  readonly maxGroupSize?: number;
  /** TCP port for group links (advertised as `g=<port>` in `RL0`); 0 picks a free one. Default: 0. */
  readonly groupPort?: number;
  /** A PMI frame whose first byte arrived must be complete within this many ms. Default: 5000. */
  readonly frameTimeoutMs?: number;
  /** A group link that received nothing for this many ms is cut; keep-alives go out after a third. Default: 45000. */
  readonly groupIdleMs?: number;
  /** Most incoming connections whose handshake is in progress, on both ports. Default: 32. */
  readonly maxPendingHandshakes?: number;
  /** Most incoming connections in handshake from one IP address. Default: 8. */
  readonly maxPendingPerIp?: number;
  /** Most bytes waiting to be written to one peer before it is cut off as not reading. Default: 1 MiB. */
  readonly maxQueuedBytes?: number;
  /** After a refused connection is reported, more refusals within this many ms are summed up in one line. Default: 2000. */
  readonly refusalReportMs?: number;
  /** The password, if the user has one (an extended node asks for a proof). Default: asked on a TTY when needed. */
  readonly password?: string;
  /** Where `password` came from, named when it proves wrong (e.g. `LUMI_PASSWORD`). Default: "the password option". */
  readonly passwordOrigin?: string;
  /** Create the account (`address`, `password`) on the node before registering. Default: false. */
  readonly signup?: boolean;
  /** Sign in even if the user is signed in elsewhere; the other agent is told and stops. Default: false. */
  readonly replace?: boolean;
  /** PBKDF2 iterations for a new account's password (the node accepts 100,000 and up). Default: 600,000. */
  readonly signupIterations?: number;
  /** Encrypt conversations with agents that can (identity key, pins). Default: true. */
  readonly encryption?: boolean;
  /** Refuse conversations in clear (original agents). Default: false. */
  readonly requireEncryption?: boolean;
  /** Where the identity and the known peers are kept. Default: files `<address>.key` and `<address>.peers`. */
  readonly keyFiles?: KeyFiles;
  /** The terminal. Default: {@linkcode createConsoleUi} (stdin/stdout). */
  readonly ui?: AgentUi;
  /** Sockets. Default: `lib/transport`. */
  readonly transport?: AgentTransport;
  /** Time and timers. Default: the system clock. */
  readonly clock?: Clock;
  /** The host's interfaces, to choose the advertised IP. Default: `Deno.networkInterfaces`. */
  readonly networkInterfaces?: () => readonly InterfaceAddress[];
  /** Abort to leave: the agent ends its conversation, deregisters, and returns. Default: none. */
  readonly signal?: AbortSignal;
}

/** {@linkcode AgentOptions} with every default applied (address and nick may still be missing). */
export interface ResolvedAgentOptions {
  readonly address: string | undefined;
  readonly nick: string | undefined;
  readonly port: number;
  readonly listenIp: string | undefined;
  readonly node: Endpoint | undefined;
  readonly advertise: string | undefined;
  readonly dns: DnsClient | undefined;
  readonly logFile: string | false | undefined;
  readonly dataDir: string | undefined;
  readonly saveProfile:
    | ((address: string, nick: string) => Promise<string | undefined>)
    | undefined;
  readonly openLog: (path: string) => Promise<LogSink>;
  readonly logFlushMs: number;
  readonly retryIntervalMs: number;
  readonly attempts: number;
  readonly nickTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly relay: RelayMode;
  /** `undefined`: the default file of the address, in the data folder. */
  readonly historyFile: string | false | undefined;
  readonly web: Endpoint | undefined;
  readonly maxChats: number;
  readonly maxGroups: number;
  readonly maxGroupSize: number;
  readonly groupPort: number;
  readonly frameTimeoutMs: number;
  readonly groupIdleMs: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingPerIp: number;
  readonly maxQueuedBytes: number;
  readonly refusalReportMs: number;
  readonly password: string | undefined;
  readonly passwordOrigin: string;
  readonly signup: boolean;
  readonly replace: boolean;
  readonly signupIterations: number;
  readonly encryption: boolean;
  readonly requireEncryption: boolean;
  readonly keyFiles: KeyFiles;
  readonly ui: AgentUi | undefined;
  readonly transport: AgentTransport;
  readonly clock: Clock;
  readonly networkInterfaces: () => readonly InterfaceAddress[];
  readonly signal: AbortSignal | undefined;
}

/** Where `--web` alone serves the page: loopback, port 8340. */
export const DEFAULT_WEB: Endpoint = { ip: "127.0.0.1", port: 8340 };

/**
 * `args` with a bare `--web` (last, or followed by another flag) given its
 * default address, {@linkcode DEFAULT_WEB}, so that `--web` takes an optional value.
 */
export function withWebDefault(args: readonly string[]): string[] {
  return args.map((arg, i) => {
    const next = args[i + 1];
    const bare = arg === "--web" && (next === undefined || next.startsWith("--"));
    return bare ? `--web=${DEFAULT_WEB.ip}:${DEFAULT_WEB.port}` : arg;
  });
}

/** The default sockets, from `lib/transport`. */
export const defaultTransport: AgentTransport = { bindUdp, listenTcp, connectTcp };

/** Why `address` cannot be used as the agent's own address, or `undefined` if it can. */
export function checkAddress(address: string): string | undefined {
  const parsed = parseAddress(address);
  if (!parsed.ok) return parsed.message;
  // `PR<address>` must fit in one datagram an original node accepts.
  if (2 + new TextEncoder().encode(address).length > MAX_PACKET_BYTES) {
    return problem.addressTooLong(address, MAX_PACKET_BYTES - 2);
  }
  return undefined;
}

/** Why `nick` cannot be used as a nickname, or `undefined` if it can. */
export function checkNick(nick: string): string | undefined {
  const bytes = new TextEncoder().encode(nick).length;
  if (nick.trim() === "") return problem.nickEmpty();
  if (bytes > MAX_INFO_BYTES) return problem.nickTooLong(bytes, MAX_INFO_BYTES);
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(nick)) return problem.nickControl();
  return undefined;
}

/**
 * How the user names an option in messages: the program's flag where there is one
 * (`--max-chats`), else the option's own name. Times given in seconds on the command line.
 */
const FLAG_NAMES: Record<string, string> = {
  port: "--port",
  groupPort: "--group-port",
  nickTimeoutMs: "--nick-timeout (seconds)",
  frameTimeoutMs: "--frame-timeout (seconds)",
  groupIdleMs: "--group-idle (seconds)",
  maxChats: "--max-chats",
  maxGroups: "--max-groups",
  maxGroupSize: "--max-group-size",
  maxPendingHandshakes: "--max-handshakes",
  maxPendingPerIp: "--max-handshakes-per-ip",
};

function named(option: string): string {
  return FLAG_NAMES[option] ?? option;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) {
    throw new UsageError(problem.positive(named(name)));
  }
  return v;
}

function whole(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new UsageError(problem.whole(named(name), min, max));
  }
  return v;
}

/**
 * Apply the defaults and validate. Throws {@linkcode UsageError} naming the
 * bad option.
 */
export function resolveAgentOptions(options: AgentOptions): ResolvedAgentOptions {
  if (options.address !== undefined) {
    const why = checkAddress(options.address);
    if (why) throw new UsageError(problem.badAddress(why));
  }
  if (options.nick !== undefined) {
    const why = checkNick(options.nick);
    if (why) throw new UsageError(problem.badNick(why));
  }
  const port = whole("port", options.port, 0, 0, 65535);
  const groupPort = whole("groupPort", options.groupPort, 0, 0, 65535);
  if (groupPort !== 0 && groupPort === port) {
    throw new UsageError(problem.samePorts(groupPort));
  }
  const listenIp = options.listenIp;
  if (listenIp !== undefined && !parseIp(listenIp).ok) {
    throw new UsageError(problem.badListenIp(listenIp));
  }
  if (options.node) {
    const { ip, port } = options.node;
    if (!parseIp(ip).ok || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new UsageError(problem.badNode(ip, port));
    }
  }
  if (options.advertise !== undefined) {
    if (!parseIp(options.advertise).ok || options.advertise === "0.0.0.0") {
      throw new UsageError(problem.badAdvertise(options.advertise));
    }
  }
  if (options.logFile === "") throw new UsageError(problem.emptyLogFile());
  const attempts = positive("attempts", options.attempts, 5);
  if (!Number.isInteger(attempts)) throw new UsageError(problem.attemptsWhole());
  return {
    address: options.address,
    nick: options.nick,
    port,
    listenIp,
    node: options.node,
    advertise: options.advertise,
    dns: options.dns,
    logFile: options.logFile,
    dataDir: options.dataDir,
    saveProfile: options.saveProfile,
    openLog: options.openLog ?? openFileSink,
    logFlushMs: positive("logFlushMs", options.logFlushMs, 250),
    retryIntervalMs: positive("retryIntervalMs", options.retryIntervalMs, 1_000),
    attempts,
    nickTimeoutMs: positive("nickTimeoutMs", options.nickTimeoutMs, 10_000),
    connectTimeoutMs: positive("connectTimeoutMs", options.connectTimeoutMs, 5_000),
    relay: relayMode(options.relay),
    // In the data folder by default: every line sent and received is kept.
    historyFile: options.historyFile ?? (options.dataDir !== undefined ? undefined : false),
    web: options.web,
    maxChats: whole("maxChats", options.maxChats, 8, 1, 1000),
    maxGroups: whole("maxGroups", options.maxGroups, 4, 0, 64),
    maxGroupSize: whole("maxGroupSize", options.maxGroupSize, 16, 2, 64),
    groupPort,
    frameTimeoutMs: positive("frameTimeoutMs", options.frameTimeoutMs, 5_000),
    groupIdleMs: positive("groupIdleMs", options.groupIdleMs, 45_000),
    maxPendingHandshakes: whole(
      "maxPendingHandshakes",
      options.maxPendingHandshakes,
      32,
      1,
      10_000,
    ),
    maxPendingPerIp: whole("maxPendingPerIp", options.maxPendingPerIp, 8, 1, 10_000),
    maxQueuedBytes: whole("maxQueuedBytes", options.maxQueuedBytes, 1024 * 1024, 1024, 2 ** 30),
    refusalReportMs: positive("refusalReportMs", options.refusalReportMs, 2_000),
    password: options.password,
    passwordOrigin: options.passwordOrigin ?? why.passwordOption(),
    signup: options.signup ?? false,
    replace: options.replace ?? false,
    signupIterations: whole(
      "signupIterations",
      options.signupIterations,
      600_000,
      100_000,
      6_000_000,
    ),
    encryption: options.encryption ?? true,
    requireEncryption: requireEncryption(options),
    keyFiles: options.keyFiles ?? diskKeyFiles,
    ui: options.ui,
    transport: options.transport ?? defaultTransport,
    clock: options.clock ?? systemClock,
    networkInterfaces: options.networkInterfaces ?? (() => Deno.networkInterfaces()),
    signal: options.signal,
  };
}

/** When calls go through the relay of the callee's node. */
export type RelayMode = "fallback" | "always" | "off";

function relayMode(mode: string | undefined): RelayMode {
  if (mode === undefined) return "fallback";
  if (mode === "fallback" || mode === "always" || mode === "off") return mode;
  throw new UsageError(problem.badRelayMode(mode));
}

function requireEncryption(options: AgentOptions): boolean {
  const required = options.requireEncryption ?? false;
  if (required && options.encryption === false) {
    throw new UsageError(problem.requireNeedsEncryption());
  }
  return required;
}

/**
 * The default packet log for `address`: `<dataDir>/logs/<address>.log`, e.g.
 * `~/.local/share/lumi/logs/laura@bb.com.log`. Without a data folder (the
 * library used in-process; the program always gives one, or no log) it is
 * `<address>.log`. Path separators in the name become `_`.
 */
export function defaultLogFile(address: string, dataDir?: string): string {
  return dataDir === undefined
    ? `${address.replace(/[\/\\]/g, "_")}.log`
    : logFileIn(dataDir, address);
}
