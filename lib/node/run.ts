/**
 * `runNode`: the whole node program — configuration, socket, packet log,
 * saved registrations, administrator console, clean shutdown.
 *
 * @module
 */

import { getLogger } from "#log";
import { createPrivate, removeStaleTemps, restrictMode } from "../atomic_file.ts";
import { createCredentials } from "../auth.ts";
import { type Clock, every, systemClock, wallTime } from "../clock.ts";
import { createLocator, type NodeLocator } from "../locate.ts";
import { type Endpoint, formatEndpoint, normalizeDomain } from "../plumi/address.ts";
import { openPacketLog, type PacketLog } from "../packet_log.ts";
import { type DnsClient, systemDns } from "../transport/dns.ts";
import { bindUdp, type DatagramSocket } from "../transport/udp.ts";
import { ConfigStore, loadConfig } from "./config_file.ts";
import { FileLockedError, NodeLock } from "./file_lock.ts";
import { checkRegularFile, FileKindError } from "./regular_file.ts";
import { AdminConsole, type ConsoleEnd, type ConsoleTarget, runConsole } from "./console.ts";
import { createReload, limiterFor, LiveLimiter } from "./ctl_reload.ts";
import { startOperations } from "./ctl_service.ts";
import { NodeMetrics } from "./metrics.ts";
import { OpLog } from "./oplog.ts";
import { NodeCore } from "./core.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import { openRedisAccounts, type RedisAccounts } from "./redis_accounts.ts";
import { openRedisDirectory } from "./redis_directory.ts";
import { ExtendedService } from "./extended.ts";
import { openRelay, RelayStartError } from "./relay_start.ts";
import { RemotePresence } from "./remote_presence.ts";
import { createFederation, federationStats } from "./federation.ts";
import { Outbox } from "./outbox.ts";
import { NodeServer } from "./server.ts";
import { AccountStore, StoreError } from "./store.ts";
import { mailboxMetrics, mailboxStats, openMailbox } from "./mailbox_start.ts";
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
  /**
   * Time and timers of the whole node (answer windows, probes, failover,
   * heartbeat sweeps, state saves, journal commits, the packet log's flushes),
   * and its wall-clock time (`wallNow`). Default: the system clock.
   */
  readonly clock?: Clock;
  /** Stop the node. */
  readonly signal?: AbortSignal;
  /** Operational log path or `false`. Default: the file's `[log] ops`, else none. */
  readonly opLogPath?: string | false;
  /** The operational log's lines. Default: the file's `[log] format`, else text. */
  readonly opLogFormat?: "text" | "json";
  /** Reload (configuration, logs) at each `reload` event, e.g. on SIGHUP. Default: never. */
  readonly reloads?: EventTarget;
  /** Open the control socket (`nodelumi.ctl` beside `nodelumi.cfg`). Default: true. */
  readonly control?: boolean;
  /** Read the console with line editing and history from the process's terminal. Default: false. */
  readonly terminal?: boolean;
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
  const clock = options.clock ?? systemClock;
  const wallNow = wallTime(clock);
  const configPath = options.configPath ?? "nodelumi.cfg";
  const { config, text } = await loadConfig(configPath);
  const domain = config.domain ?? (options.hostname ?? Deno.hostname)();
  // Who is a user: the names of nodelumi.cfg, and (below) the accounts created by sign-up.
  // With [cluster], the node's copy of a domain shared through Redis (redis_directory.ts).
  await using clustered = config.cluster
    ? await openRedisDirectory({ redis: config.cluster.redis, domain, configured: config.users })
      .catch((error) => {
        throw new NodeStartError(`Cannot reach Redis ${config.cluster!.redis}: ${error}`, {
          cause: error,
        });
      })
    : undefined;
  const directory = clustered ?? new MemoryDirectory(config.users);
  const listen = options.listen ?? config.listen ?? DEFAULT_LISTEN;
  const logPath = options.logPath ?? config.log ?? `nodelumi-${domain}.log`;
  const statePath = options.statePath ?? config.state ?? `nodelumi-${domain}.state`;
  const dnsServer = options.dnsServer ?? config.dnsServer;

  let accounts: AccountStore | undefined;
  let sharedAccounts: RedisAccounts | undefined;
  const databasePath = options.databasePath ?? config.accounts?.database ?? `nodelumi-${domain}.db`;
  // One node per set of files: before anything reads or tidies them.
  await using lock = await claimFiles({
    config: configPath,
    database: databasePath,
    state: statePath,
    log: logPath,
  });
  const opLogPath = options.opLogPath ?? config.logging?.ops ?? false;
  await using opLog = opLogPath
    ? await OpLog.open({
      path: opLogPath,
      format: options.opLogFormat ?? config.logging?.format ?? "text",
      ...(config.logging?.maxSize !== undefined && { maxFileBytes: config.logging.maxSize }),
      ...(config.logging?.keep !== undefined && { keep: config.logging.keep }),
    }).catch((error) => {
      throw new NodeStartError(`Cannot open the operational log ${opLogPath}: ${error}`, {
        cause: error,
      });
    })
    : undefined;
  await opLog?.install();
  for (const { path, reason } of lock.skipped) {
    logger.warn("Not locked (another node could use it too): {path}: {reason}", { path, reason });
  }
  if (databasePath) {
    try {
      // Created owner-only before SQLite opens it: its WAL and shared-memory files take its mode.
      await createPrivate(databasePath);
      accounts = AccountStore.open(databasePath, {
        now: () => clock.now(),
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
      // With [cluster], accounts and buddy lists are the domain's, shared (redis_accounts.ts).
      if (clustered) {
        sharedAccounts = await openRedisAccounts({
          link: clustered.link,
          prefix: clustered.prefix,
          store: accounts,
          directory,
        });
      }
      // Accounts created by sign-up are users of the domain too.
      for (const name of accounts.signedUpNames()) directory.add(name, "signup");
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
      clock,
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
  const metrics = config.metrics && new NodeMetrics();
  let socket: DatagramSocket;
  try {
    socket = (options.bind ?? bindUdp)(listen);
    if (metrics) socket = metrics.wrapSocket(socket);
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
        clock,
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
        ...(config.logging?.maxSize !== undefined && { maxFileBytes: config.logging.maxSize }),
        ...(config.logging?.keep !== undefined && { keep: config.logging.keep }),
        onRotateError: (error) =>
          logger.error("Cannot start a new packet log {path}: {error} (the old one is kept)", {
            path: logPath,
            error,
          }),
      });
    }
  } catch (error) {
    socket.close();
    keeper?.abandon();
    throw new NodeStartError(`Cannot open the packet log ${logPath}: ${error}`, { cause: error });
  }

  let relay;
  try {
    relay = accounts ? openRelay(config.relay, socket.local, logger, clock) : undefined;
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
    now: () => clock.now(),
  });
  const limits = config.limits ?? {};
  const heartbeatMs = (limits.heartbeat ?? 30) * 1000;
  // Built in the order they need each other, the way out first: everything that sends uses it.
  const outbox = new Outbox({ socket, ...(log && { log }) });
  const domainKey = normalizeDomain(domain);
  const remote = accounts &&
    new RemotePresence({ locator, send: outbox.send, refreshMs: heartbeatMs, clock });
  const relayOffers = relay && {
    endpoint: relay.endpoint,
    request: (caller: string, callee: string) => relay.request(caller, callee),
    notify: outbox.send,
    sessionsFrom: (callerDomain: string) => relay.sessionsFrom(callerDomain),
    perCallingDomain: relay.limits.perDomain,
  };
  const isLocal = (d: string) => normalizeDomain(d) === domainKey;
  const federation = remote && createFederation({
    locator,
    send: outbox.send,
    isExtended: (node, d) => remote.isExtended(node, d),
    clock,
    directory,
    isLocal,
    ...(relayOffers && { relay: relayOffers }),
  });
  const mailbox = !accounts || !databasePath ? undefined : await openMailbox({
    path: databasePath,
    accounts,
    domain,
    directory,
    isLocal,
    notify: outbox.send,
    clock,
    now: wallNow,
    ...(config.mailbox && { settings: config.mailbox }),
    ...(clustered && { cluster: clustered }),
  });
  const extended = accounts && new ExtendedService({
    domain,
    directory,
    store: accounts,
    ...(remote && { remote }),
    isLocal,
    now: wallNow,
    ...(mailbox && { mailbox }),
    ...(relayOffers && { relay: relayOffers }),
    ...(federation && { federation }),
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
  // Passwords applied from other nodes reach the service's own list of them.
  if (sharedAccounts && extended) sharedAccounts.passwords = extended;
  const core = new NodeCore({
    domain,
    directory,
    clock,
    now: wallNow,
    send: outbox.send,
    ...(config.offlineAfter && { offlineAfter: config.offlineAfter }),
    ...(extended && { isProtected: (name: string) => extended.isProtected(name) }),
  });
  const limiter = new LiveLimiter(limiterFor(config));
  const server = new NodeServer({
    core,
    socket,
    outbox,
    locator,
    clock,
    ...(log && { log }),
    directory,
    ...(extended && { extended }),
    ...(remote && { remote }),
    ...(federation && { federation }),
    limiter,
    onEvent: (event) => {
      if (event.kind === "banned") {
        logger.warn("Banned {ip} for flooding: {reason}", { ...event.from, ...event });
      } else logger.debug("{kind} from {ip}:{port}: {reason}", { ...event, ...event.from });
    },
  });
  metrics?.instrument(server);
  metrics?.attach({
    stats: server.stats,
    directory,
    logDropped: () => ({ packets: log?.stats.dropped ?? 0, ops: opLog?.dropped ?? 0 }),
    ...(accounts && { storeErrors: () => accounts.failures }),
    ...(mailbox && { mailbox: () => mailboxMetrics(mailbox) }),
  });
  // Extended agents that stopped their heartbeats (and expired original registrations) go offline.
  const sweeper = extended && every(clock, Math.min(1_000, heartbeatMs), () => {
    try {
      for (const name of extended.sweep()) {
        logger.info("{name} went offline (no heartbeat)", { name });
      }
    } catch (error) {
      // A timer's exception would end the process: log it, and sweep again next time.
      logger.error("Internal error sweeping heartbeat sessions: {error}", { error });
    }
  });
  const store = new ConfigStore(configPath, config, text, domain);

  const relaying = relay?.serve();
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.signal?.aborted) stop.abort();

  const serving = server.serve();

  const target: ConsoleTarget = {
    domain,
    directory,
    stats: server.stats,
    save: (users) => store.save(users),
    verify: () => store.verify(),
    reload: createReload({
      store,
      config,
      limiter,
      logs: [...(log ? [log] : []), ...(opLog ? [opLog] : [])],
      ...(extended && { accounts: extended }),
      ...(mailbox && { mailbox }),
    }),
    ...(accounts && {
      moreStats: () => ({
        storeFailures: accounts.failures,
        failedProofs: extended?.failedProofs ?? 0,
        ...(mailbox && mailboxStats(mailbox)),
        ...(log && { logLinesDropped: log.stats.dropped }),
        ...(federation && federationStats(federation)),
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
  };
  const admin = new AdminConsole(target);
  await using operations = await startOperations({
    admin,
    configPath,
    ...(options.control !== undefined && { control: options.control }),
    ...(metrics && config.metrics &&
      { metrics: { registry: metrics, listen: config.metrics.listen } }),
    ...(options.reloads && { reloads: options.reloads }),
    write,
  });
  // Said once everything is up: a script that waits for this line can use ctl at once.
  write(
    `LUMI node ${domain} listening on ${formatEndpoint(socket.local)}` +
      ` (${directory.size} users, ${restored} online restored)\n`,
  );
  if (relay) write(`Relay on TCP ${formatEndpoint(relay.endpoint)}\n`);

  logger.info("Node {domain} started: UDP {at}, {users} users, {restored} online restored", {
    domain,
    at: formatEndpoint(socket.local),
    users: directory.size,
    restored,
  });

  let consoleDone: Promise<ConsoleEnd> | undefined;
  if (options.input) {
    consoleDone = runConsole(target, {
      input: options.input,
      write,
      color: options.color ?? false,
      prompt: options.prompt ?? false,
      confirm: options.terminal ?? false,
      terminal: options.terminal ?? false,
      signal: stop.signal,
    });
    void consoleDone.then((end) => {
      if (end === "exit") stop.abort();
    }, (error) => logger.error("Console failed: {error}", { error }));
  }

  await new Promise<void>((resolve) => {
    if (stop.signal.aborted) resolve();
    stop.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  options.signal?.removeEventListener("abort", onAbort);
  sweeper?.stop();
  federation?.keys.close();
  federation?.relay.close();
  await relay?.close();
  await relaying;
  socket.close();
  await serving;
  await operations.close();
  await keeper?.close();
  await log?.close();
  await sharedAccounts?.[Symbol.asyncDispose]();
  mailbox?.close();
  accounts?.close();
  await consoleDone?.catch(() => {});
  logger.info("Node {domain} stopped", { domain });
  write(`LUMI node ${domain} stopped\n`);
}
