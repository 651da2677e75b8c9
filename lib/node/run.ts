/**
 * `runNode`: the whole node program — configuration, socket, packet log,
 * saved registrations, administrator console, clean shutdown.
 *
 * @module
 */

import { getLogger } from "#log";
import { createPrivate, removeStaleTemps, restrictMode } from "../atomic_file.ts";
import { createCredentials } from "../auth.ts";
import { createLocator, type NodeLocator } from "../locate.ts";
import { type Endpoint, formatEndpoint } from "../plumi/address.ts";
import type { PlumiMessage } from "../plumi/messages.ts";
import { openPacketLog, type PacketLog } from "../packet_log.ts";
import { type DnsClient, systemDns } from "../transport/dns.ts";
import { bindUdp, type DatagramSocket } from "../transport/udp.ts";
import { ConfigStore, loadConfig } from "./config_file.ts";
import { FileLockedError, NodeLock } from "./file_lock.ts";
import { checkRegularFile, FileKindError } from "./regular_file.ts";
import { type ConsoleEnd, runConsole } from "./console.ts";
import { NodeCore } from "./core.ts";
import { Directory } from "./directory.ts";
import { ExtendedService } from "./extended.ts";
import { RateLimiter } from "./rate_limit.ts";
import { openRelay, RelayStartError } from "./relay_start.ts";
import { RemotePresence } from "./remote_presence.ts";
import { NodeServer } from "./server.ts";
import { AccountStore, StoreError } from "./store.ts";
import { StateKeeper } from "./state.ts";

/** The default UDP address of a node: every interface, port 3344. */
export const DEFAULT_LISTEN: Endpoint = { ip: "0.0.0.0", port: 3344 };

/** Options of {@linkcode runNode}. Flags override the configuration file. */
export interface RunNodeOptions {
  /** Configuration file. Default: `nodelumi.cfg`. */
  readonly configPath?: string;
  /** UDP address to listen on. Default: the file's `listen`, else 0.0.0.0:3344. */
  readonly listen?: Endpoint;
  /** Packet log path or `false`. Default: the file's `log`, else `nodelumi-<domain>.log`. */
  readonly logPath?: string | false;
  /** Registration state path or `false`. Default: the file's `state`, else `nodelumi-<domain>.state`. */
  readonly statePath?: string | false;
  /** DNS server for other domains. Default: the file's `dns-server`, else the system's. */
  readonly dnsServer?: Endpoint;
  /** Console input; `null` for none (a service). Default: none. */
  readonly input?: ReadableStream<Uint8Array> | null;
  /** Where console answers and status lines go. Default: stdout. */
  readonly write?: (text: string) => void;
  /** Colours in console output. Default: false. */
  readonly color?: boolean;
  /** Show a console prompt. Default: false. */
  readonly prompt?: boolean;
  /** The machine's DNS name, the domain when the file names none. Default: `Deno.hostname`. */
  readonly hostname?: () => string;
  /** Socket factory. Default: a real UDP socket. */
  readonly bind?: (at: Endpoint) => DatagramSocket;
  /** DNS client. Default: the system's resolver (or `dnsServer`). */
  readonly dns?: DnsClient;
  /** Account database path, or `false` for none (original protocol only). Default: the file's `[accounts] database`, else `nodelumi-<domain>.db`. */
  readonly databasePath?: string | false;
  /** Registration state is saved this often when it changed, in ms. Default: 5 000. */
  readonly stateIntervalMs?: number;
  /** Registration changes are journaled (written and flushed) at most this long after they happen, in ms. Default: 200. */
  readonly journalCommitMs?: number;
  /** Stop the node. */
  readonly signal?: AbortSignal;
}

/** Why the node could not start (exit code 2 in `main_node.ts`). */
export class NodeStartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NodeStartError";
  }
}

/** The largest state file the node reads at start (200 k registrations take about 10 MiB). */
const MAX_STATE_BYTES = 512 * 2 ** 20;

/** Lock the node's files and check that they are regular files; throws {@linkcode NodeStartError}. */
async function claimFiles(files: {
  config: string;
  database: string | false;
  state: string | false;
  log: string | false;
}): Promise<NodeLock> {
  const paths = [files.config, files.database, files.state, files.log]
    .filter((p): p is string => typeof p === "string" && p !== "" && p !== ":memory:");
  let lock: NodeLock;
  try {
    lock = await NodeLock.acquire(paths);
  } catch (error) {
    if (error instanceof FileLockedError) throw new NodeStartError(error.message, { cause: error });
    throw new NodeStartError(`Cannot lock the node's files: ${error}`, { cause: error });
  }
  try {
    if (files.state) await checkRegularFile(files.state, MAX_STATE_BYTES);
    if (files.log) await checkRegularFile(files.log);
    if (files.database && files.database !== ":memory:") await checkRegularFile(files.database);
  } catch (error) {
    await lock.release();
    const why = error instanceof FileKindError
      ? `Cannot use ${error.path}: ${error.reason}`
      : `Cannot check the node's files: ${error}`;
    throw new NodeStartError(why, { cause: error });
  }
  return lock;
}

const encoder = new TextEncoder();
const stdoutWrite = (text: string) => void Deno.stdout.writeSync(encoder.encode(text));

/** Warn about a file with secrets that others could read (tightened to 0600, or not: `error`). */
function looseMode(path: string, mode: number, error?: unknown): void {
  const was = mode.toString(8).padStart(4, "0");
  if (error === undefined) {
    getLogger(["lumi", "node"]).warn(
      "{path} was readable by others (mode {was}); it is now 0600 (owner only)",
      { path, was },
    );
  } else {
    getLogger(["lumi", "node"]).warn(
      "{path} is readable by others (mode {was}) and cannot be changed ({error}): it holds secrets",
      { path, was, error },
    );
  }
}

/**
 * Run a node until `exit` on the console or `signal` aborts. Resolves once
 * the socket is closed, the log flushed and the state saved.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * Deno.addSignalListener("SIGTERM", () => stop.abort());
 * await runNode({ configPath: "nodelumi.cfg", input: Deno.stdin.readable, signal: stop.signal });
 * ```
 */
export async function runNode(options: RunNodeOptions = {}): Promise<void> {
  const logger = getLogger(["lumi", "node"]);
  const write = options.write ?? stdoutWrite;
  const configPath = options.configPath ?? "nodelumi.cfg";
  const { config, text } = await loadConfig(configPath);
  const domain = config.domain ?? (options.hostname ?? Deno.hostname)();
  const directory = new Directory(config.users);
  const listen = options.listen ?? config.listen ?? DEFAULT_LISTEN;
  const logPath = options.logPath ?? config.log ?? `nodelumi-${domain}.log`;
  const statePath = options.statePath ?? config.state ?? `nodelumi-${domain}.state`;
  const dnsServer = options.dnsServer ?? config.dnsServer;

  let accounts: AccountStore | undefined;
  const databasePath = options.databasePath ?? config.accounts?.database ?? `nodelumi-${domain}.db`;
  // One node per set of files: before anything reads or tidies them.
  await using lock = await claimFiles({
    config: configPath,
    database: databasePath,
    state: statePath,
    log: logPath,
  });
  for (const { path, reason } of lock.skipped) {
    logger.warn("Not locked (another node could use it too): {path}: {reason}", { path, reason });
  }
  if (databasePath) {
    try {
      // Created owner-only before SQLite opens it: its WAL and shared-memory files take its mode.
      await createPrivate(databasePath);
      accounts = AccountStore.open(databasePath, {
        onEvent: (event) => {
          if (event.kind === "failing") {
            logger.error("{message} (answered e=store until it works again)", {
              message: event.error.message,
            });
          } else {
            logger.warn("The account database {path} works again ({failures} requests failed)", {
              path: databasePath,
              failures: event.failures,
            });
          }
        },
      });
      // Accounts created by sign-up are users of the domain too.
      for (const account of accounts.accounts()) if (account.signedUp) directory.add(account.name);
    } catch (error) {
      accounts?.close();
      if (!(error instanceof StoreError)) throw error;
      throw new NodeStartError(error.message, { cause: error });
    }
    for (const path of [databasePath, `${databasePath}-wal`, `${databasePath}-shm`]) {
      const loose = await restrictMode(path);
      if (loose) looseMode(path, loose.mode, loose.error);
    }
  }
  // Temporary files of saves cut short by a crash are garbage: the real files are whole.
  await removeStaleTemps(configPath);
  if (statePath) await removeStaleTemps(statePath);
  const keeper = statePath
    ? await StateKeeper.open({
      path: statePath,
      directory,
      intervalMs: options.stateIntervalMs ?? 5_000,
      ...(options.journalCommitMs !== undefined && { commitMs: options.journalCommitMs }),
      onError: (what, error) =>
        logger.error(
          what === "state"
            ? "Cannot save the state file {path}: {error} (retrying; changes are in the journal)"
            : "Cannot write the journal of {path}: {error} (retrying)",
          { path: statePath, error },
        ),
      onRecover: (what) =>
        logger.warn(
          what === "state"
            ? "The state file {path} is saved again"
            : "The journal of {path} is written again",
          { path: statePath },
        ),
      onLooseMode: (mode, error) => looseMode(statePath, mode, error),
    })
    : undefined;
  const restored = keeper?.restored ?? 0;
  let socket: DatagramSocket;
  try {
    socket = (options.bind ?? bindUdp)(listen);
  } catch (error) {
    const why = error instanceof Deno.errors.AddrInUse
      ? "the address is in use (is another node running?)"
      : error instanceof Error
      ? error.message
      : String(error);
    keeper?.abandon();
    throw new NodeStartError(`Cannot listen on UDP ${formatEndpoint(listen)}: ${why}`, {
      cause: error,
    });
  }
  let log: PacketLog | undefined;
  try {
    if (logPath) {
      log = await openPacketLog(logPath, {
        onError: (error) =>
          logger.error("Cannot write the packet log {path}: {error} (retrying)", {
            path: logPath,
            error,
          }),
        onResume: (dropped) =>
          logger.warn("The packet log {path} is written again; {dropped} lines were dropped", {
            path: logPath,
            dropped,
          }),
        onLooseMode: (mode, error) => looseMode(logPath, mode, error),
      });
    }
  } catch (error) {
    socket.close();
    keeper?.abandon();
    throw new NodeStartError(`Cannot open the packet log ${logPath}: ${error}`, { cause: error });
  }

  let relay;
  try {
    relay = accounts ? openRelay(config.relay, socket.local, logger) : undefined;
    if (!accounts && config.relay?.enabled) {
      logger.warn(
        "[relay] is enabled but the node runs without extensions (no database): no relay",
      );
    }
  } catch (error) {
    socket.close();
    keeper?.abandon();
    await log?.close();
    if (!(error instanceof RelayStartError)) throw error;
    throw new NodeStartError(error.message, { cause: error });
  }
  const locator: NodeLocator = createLocator({
    staticMap: config.domains,
    dns: options.dns ?? systemDns({ ...(dnsServer && { server: dnsServer }) }),
  });
  const limits = config.limits ?? {};
  const heartbeatMs = (limits.heartbeat ?? 30) * 1000;
  let extended: ExtendedService | undefined;
  let remote: RemotePresence | undefined;
  // The server and the presence cache need each other: presence queries go out through the server.
  const outbox: { send?: (to: Endpoint, message: PlumiMessage) => void } = {};
  const core = new NodeCore({
    domain,
    directory,
    ...(config.offlineAfter && { offlineAfter: config.offlineAfter }),
    isProtected: (name) => extended?.isProtected(name) ?? false,
  });
  if (accounts) {
    remote = new RemotePresence({
      locator,
      send: (to, message) => outbox.send?.(to, message),
      refreshMs: heartbeatMs,
    });
    extended = new ExtendedService({
      domain,
      directory,
      store: accounts,
      remote,
      isLocal: (d) => core.isLocal(d),
      ...(relay && {
        relay: {
          endpoint: relay.endpoint,
          request: (caller: string, callee: string) => relay.request(caller, callee),
          notify: (to: Endpoint, message: PlumiMessage) => outbox.send?.(to, message),
        },
      }),
      settings: {
        heartbeatMs,
        expireOriginalMs: (limits["expire-original"] ?? 0) * 1000,
        openSignup: config.accounts?.openSignup ?? false,
        ...(config.accounts?.signupsPerHour !== undefined &&
          { signupsPerHour: config.accounts.signupsPerHour }),
        onlineList: config.accounts?.onlineList ?? true,
        ...(limits["max-buddies"] !== undefined && { maxBuddies: limits["max-buddies"] }),
      },
    });
  }
  const rate = limits["rate-limit"] ?? 200;
  const limiter = rate > 0
    ? new RateLimiter({
      limit: rate,
      windowMs: limits["rate-window"] ?? 1_000,
      banMs: (limits.ban ?? 10) * 1000,
      // Only what the configuration names: `exempt`, and the nodes of the static map (other
      // domains' traffic arrives from them). Exempt is not unlimited: see `exempt-limit`.
      exempt: [...(config.exempt ?? []), ...[...config.domains.values()].map((e) => e.ip)],
      ...(limits["exempt-limit"] !== undefined && { exemptLimit: limits["exempt-limit"] }),
    })
    : undefined;
  const server = new NodeServer({
    core,
    socket,
    locator,
    ...(log && { log }),
    directory,
    ...(extended && { extended }),
    ...(remote && { remote }),
    ...(limiter && { limiter }),
    onEvent: (event) => {
      if (event.kind === "banned") {
        logger.warn("Banned {ip} for flooding: {reason}", { ...event.from, ...event });
      } else logger.debug("{kind} from {ip}:{port}: {reason}", { ...event, ...event.from });
    },
  });
  outbox.send = (to, message) => server.sendTo(to, message);
  const sweeper = extended && setInterval(() => {
    for (const name of extended.sweep()) {
      logger.info("{name} went offline (no heartbeat)", { name });
    }
  }, Math.min(1_000, heartbeatMs));
  const store = new ConfigStore(configPath, config, text, domain);

  write(
    `LUMI node ${domain} listening on ${formatEndpoint(socket.local)}` +
      ` (${directory.size} users, ${restored} online restored)\n`,
  );
  if (relay) write(`Relay on TCP ${formatEndpoint(relay.endpoint)}\n`);
  const relaying = relay?.serve();

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();

  const serving = server.serve();

  let consoleDone: Promise<ConsoleEnd> | undefined;
  if (options.input) {
    consoleDone = runConsole(
      {
        domain,
        directory,
        stats: server.stats,
        save: (users) => store.save(users),
        verify: () => store.verify(),
        reload: () => store.reload(),
        ...(accounts && {
          moreStats: () => ({
            storeFailures: accounts.failures,
            failedProofs: extended?.failedProofs ?? 0,
          }),
        }),
        ...(extended && {
          accounts: {
            setPassword: async (name: string, password: string) =>
              extended.setPassword(name, await createCredentials(password)),
            clearPassword: (name: string) => extended.clearPassword(name),
            forget: (name: string) => extended.forget(name),
            isProtected: (name: string) => extended.isProtected(name),
            isSignedUp: (name: string) => extended.isSignedUp(name),
            buddiesOf: (name: string) => extended.buddiesOf(name),
          },
        }),
      },
      {
        input: options.input,
        write,
        color: options.color ?? false,
        prompt: options.prompt ?? false,
        signal: stop.signal,
      },
    );
    void consoleDone.then((end) => {
      if (end === "exit") stop.abort();
    }, (error) => logger.error("Console failed: {error}", { error }));
  }

  await new Promise<void>((resolve) => {
    if (stop.signal.aborted) resolve();
    stop.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  options.signal?.removeEventListener("abort", onAbort);
  clearInterval(sweeper);
  await relay?.close();
  await relaying;
  socket.close();
  await serving;
  await keeper?.close();
  await log?.close();
  accounts?.close();
  await consoleDone?.catch(() => {});
  write(`LUMI node ${domain} stopped\n`);
}
