/**
 * {@linkcode runAgent}: the whole life of an agent. Ask for what is missing,
 * find the node, register, then read commands (call, chat, wait) until the
 * user quits, the input ends or the signal aborts; then end the conversation,
 * deregister and close everything.
 *
 * @module
 */

import { type Endpoint, formatEndpoint } from "../plumi/address.ts";
import { systemDns } from "../transport/dns.ts";
import type { StreamListener } from "../transport/tcp.ts";
import type { DatagramSocket } from "../transport/udp.ts";
import { untilAborted } from "./abort.ts";
import { chooseAdvertiseIp, type InterfaceAddress } from "./node/advertise.ts";
import {
  AbortedError,
  describeError,
  ListenError,
  NodeNotFoundError,
  RegistrationError,
  UsageError,
} from "./errors.ts";
import { domainExists, locateNodes } from "./node/find_node.ts";
import { PacketLog } from "../packet_log.ts";
import {
  ask,
  buddyText,
  client as clientText,
  problem,
  say,
  signUpText,
  webText,
} from "./terminal/texts.ts";
import {
  type AgentOptions,
  checkAddress,
  checkNick,
  defaultLogFile,
  resolveAgentOptions,
  type ResolvedAgentOptions,
} from "./options.ts";
import { ExtendedSession } from "./node/extended_client.ts";
import { SignedInElsewhereError, signUp } from "./node/registration.ts";
import { PlumiClient } from "./node/client.ts";
import { Presence } from "./node/presence.ts";
import { commandLoop } from "./command_loop.ts";
import { Reception } from "./chat/reception.ts";
import { Switchboard } from "./chat/switchboard.ts";
import { AgentRelay } from "./chat/relay_call.ts";
import { decodeRelayPacket } from "../plumi/extensions/mod.ts";
import { ChatHistory } from "./history/history.ts";
import { Keyring } from "./chat/keyring.ts";
import { keyFromText, keyToText } from "../crypto/mod.ts";
import {
  deregister,
  GaveUpError,
  passwordSource,
  register,
  registerFirst,
  withRetry,
} from "./node/sign_in.ts";
import { type AgentUi, createConsoleUi } from "./terminal/ui.ts";
import { Activity } from "./terminal/activity.ts";
import { isLoopback, WebServer, webState, WebUi } from "./web/mod.ts";
import { type ClientContext, completer, type Me, watchTopics } from "./terminal/client_commands.ts";
import {
  type MailboxRoute,
  noticeHandler,
  openNode,
  startMailbox,
  talkThrough,
} from "./node/mailbox_start.ts";
import { offlineText } from "./terminal/texts.ts";

/** Ask on a TTY until the answer passes `check`; `null` if the input ends or the user stops. */
async function askFor(
  ui: AgentUi,
  question: string,
  check: (answer: string) => string | undefined,
  flag: string,
  signal: AbortSignal,
): Promise<string | null> {
  if (!ui.interactive) {
    throw new UsageError(problem.missingFlag(flag));
  }
  for (;;) {
    const answer = await untilAborted(ui.ask(question), signal);
    if (signal.aborted) throw new AbortedError("interrupted");
    if (answer === null) return null;
    const text = answer.trim();
    const problem = check(text);
    if (!problem) return text;
    ui.warn(problem);
  }
}

async function findNode(
  o: ResolvedAgentOptions,
  ui: AgentUi,
  address: string,
): Promise<Endpoint[]> {
  if (o.node) return [o.node];
  const domain = address.slice(address.indexOf("@") + 1);
  ui.info(say.locating(domain));
  try {
    return await locateNodes(domain, o.dns ?? systemDns());
  } catch (error) {
    if (!(error instanceof NodeNotFoundError)) throw error;
    throw new NodeNotFoundError(domain, problem.cannotRegister(address, error.message), {
      cause: error,
    });
  }
}

/**
 * Listen on `o.listenIp`, else on the advertised IP only (issue 19); an advertised IP that is
 * not this host's (behind NAT) falls back on every interface, and `ui` is told.
 */
function openSockets(
  o: ResolvedAgentOptions,
  advertised: string,
  ui: AgentUi,
): { socket: DatagramSocket; listener: StreamListener; groupListener?: StreamListener } {
  let listener: StreamListener;
  let listenIp = o.listenIp ?? advertised;
  try {
    try {
      listener = o.transport.listenTcp({ ip: listenIp, port: o.port });
    } catch (error) {
      if (o.listenIp !== undefined || !(error instanceof Deno.errors.AddrNotAvailable)) throw error;
      ui.warn(clientText.listeningEverywhere(listenIp));
      listenIp = "0.0.0.0";
      listener = o.transport.listenTcp({ ip: listenIp, port: o.port });
    }
  } catch (error) {
    throw new ListenError(problem.listenChats(listenIp, o.port, describeError(error)), {
      cause: error,
    });
  }
  let groupListener: StreamListener | undefined;
  if (o.maxGroups > 0) {
    try {
      groupListener = o.transport.listenTcp({ ip: listenIp, port: o.groupPort });
    } catch (error) {
      listener.close();
      throw new ListenError(problem.listenGroups(listenIp, o.groupPort, describeError(error)), {
        cause: error,
      });
    }
  }
  try {
    return { socket: o.transport.bindUdp({ ip: "0.0.0.0", port: 0 }), listener, groupListener };
  } catch (error) {
    listener.close();
    groupListener?.close();
    throw new ListenError(problem.udpSocket(describeError(error)), { cause: error });
  }
}

function advertisedIp(o: ResolvedAgentOptions, node: Endpoint): string {
  if (o.advertise) return o.advertise;
  let interfaces: readonly InterfaceAddress[] = [];
  try {
    interfaces = o.networkInterfaces();
  } catch {
    // not allowed or not available: the choice falls back on the node's side
  }
  return chooseAdvertiseIp(node.ip, interfaces);
}

/**
 * Run an agent until the user quits, the input ends, or `options.signal`
 * aborts. Resolves after deregistering; rejects with {@linkcode UsageError},
 * {@linkcode NodeNotFoundError}, {@linkcode NodeSilentError},
 * {@linkcode RegistrationError} or {@linkcode ListenError} when it cannot
 * start (on a terminal, the user is first offered to try again).
 *
 * @example
 * ```ts
 * await runAgent({
 *   address: "laura@bb.com",
 *   nick: "Laura",
 *   node: { ip: "127.0.0.1", port: 3344 },
 * });
 * ```
 */
export async function runAgent(options: AgentOptions = {}): Promise<void> {
  const o = resolveAgentOptions(options);
  // With --web, one stream of events for the terminal and the pages (`web/`).
  const web = o.web ? new WebUi(o.ui ?? createConsoleUi()) : undefined;
  const ui = web ?? o.ui ?? createConsoleUi();
  const stop = new AbortController();
  // A second interrupt cuts the deregistration short.
  const hurry = new AbortController();
  const onAbort = () => stop.abort();
  o.signal?.addEventListener("abort", onAbort);
  if (o.signal?.aborted) stop.abort();
  ui.onInterrupt = () => (stop.signal.aborted ? hurry.abort() : stop.abort());
  const closing: Array<() => void | Promise<void>> = [];
  let registered = false;
  /** Why the agent had to stop by itself (another agent signed in as this user). */
  let stopped: Error | undefined;
  const endWith = (error: Error) => {
    if (stopped) return;
    stopped = error;
    ui.warn(error.message);
    stop.abort();
  };
  try {
    const nick = o.nick ?? await askFor(ui, ask.nick(), checkNick, "--nick", stop.signal);
    if (nick === null) return;
    const address = o.address ??
      await askFor(ui, ask.address(), checkAddress, "--address", stop.signal);
    if (address === null) return;
    ui.setPrompt(`${nick}> `);
    const me: Me = { nick, away: undefined };
    const saved = await o.saveProfile?.(address, nick);
    if (saved) ui.info(saved);
    ui.setIdentity?.(nick);
    const page = web && o.web ? startWebPage(web, o.web) : undefined;
    if (page) closing.push(() => page.close());

    let log: PacketLog | undefined;
    if (o.logFile !== false) {
      const path = o.logFile ?? defaultLogFile(address, o.dataDir);
      try {
        const sink = await o.openLog(path);
        log = new PacketLog({
          sink,
          clock: o.clock,
          flushMs: o.logFlushMs,
          onError: (error) => ui.warn(problem.logFailed(path, describeError(error))),
        });
        closing.push(() => log!.close());
      } catch (error) {
        ui.warn(problem.logUnavailable(path, describeError(error)));
      }
    }

    let history: ChatHistory | undefined;
    if (o.historyFile !== false) {
      const path = o.historyFile ??
        `${o.dataDir}/${address.replace(/[\/\\]/g, "_")}.history.db`;
      history = ChatHistory.open({ path, ui, clock: o.clock });
      closing.push(() => history?.close());
    }
    const keyring = o.encryption ? await openKeyring(o, ui, address) : undefined;
    /** The extended session, once registered: the node that vouches for its users' keys. */
    const vouching: { session?: ExtendedSession } = {};

    const activity = new Activity(ui);
    const nodes = await withRetry(
      ui,
      stop.signal,
      () => activity.during(say.findingNode(address), () => findNode(o, ui, address)),
    );
    const node = nodes[0]!;
    const ip = advertisedIp(o, node);
    const { socket, listener, groupListener } = openSockets(o, ip, ui);
    const advertised = { ip, port: listener.local.port };
    // Look-ups may arrive as soon as the client runs; they go to the reception once it exists.
    const route: { reception?: Reception } = {};
    const mailboxRoute: MailboxRoute = {};
    const client = new PlumiClient({
      socket,
      node: node,
      trusted: nodes,
      clock: o.clock,
      retryIntervalMs: o.retryIntervalMs,
      attempts: o.attempts,
      log,
      onLookup: (request, from) => route.reception?.handleLookup(request, from) ?? false,
      onAttempt: (message, attempt, attempts) => activity.attempt(message, attempt, attempts),
      onRelayOffer: (request) => {
        const offer = decodeRelayPacket(request);
        return offer?.kind === "relay-offer" && (route.reception?.acceptRelayed(offer) ?? false);
      },
      onMailboxNotice: noticeHandler(mailboxRoute, address),
    });
    // The extended session, once registered: relays are asked for under its seal.
    let extended: ExtendedSession | undefined;
    const relay = new AgentRelay({
      address,
      client,
      extended: () => extended !== undefined,
      connect: o.transport.connectTcp,
    });
    closing.unshift(() => client.close());
    const switchboard = new Switchboard({
      address,
      get nick() {
        return me.nick;
      },
      client,
      groupEndpoint: groupListener && { ip: advertised.ip, port: groupListener.local.port },
      connect: o.transport.connectTcp,
      ui,
      clock: o.clock,
      nickTimeoutMs: o.nickTimeoutMs,
      connectTimeoutMs: o.connectTimeoutMs,
      frameTimeoutMs: o.frameTimeoutMs,
      maxQueuedBytes: o.maxQueuedBytes,
      maxChats: o.maxChats,
      maxGroups: o.maxGroups,
      maxGroupSize: o.maxGroupSize,
      groupIdleMs: o.groupIdleMs,
      domainExists: (domain) => domainExists(domain, o.dns ?? systemDns()),
      ...(o.relay !== "off" && { relay, relayAlways: o.relay === "always" }),
      ...(history && { history }),
      ...(keyring && { keyring }),
      requireEncryption: o.requireEncryption,
      vouch: async (peer: string) => {
        const text = await vouching.session?.vouchedKey(peer).catch(() => undefined);
        return text === undefined ? undefined : keyFromText(text);
      },
      // A line its conversation could not take any more is left for the peer offline.
      offline: (peer: string, text: string) => {
        const mailbox = mailboxRoute.mailbox;
        if (!mailbox) return false;
        ui.info(offlineText.fallback(peer));
        void mailbox.leave(peer, text);
        return true;
      },
    });
    const reception = new Reception({
      address,
      get nick() {
        return me.nick;
      },
      client,
      listener,
      groupListener,
      advertised,
      switchboard,
      ui,
      clock: o.clock,
      nickTimeoutMs: o.nickTimeoutMs,
      frameTimeoutMs: o.frameTimeoutMs,
      maxQueuedBytes: o.maxQueuedBytes,
      maxChats: o.maxChats,
      maxGroupSize: o.maxGroupSize,
      maxPendingHandshakes: o.maxPendingHandshakes,
      maxPendingPerIp: o.maxPendingPerIp,
      refusalReportMs: o.refusalReportMs,
      ...(o.relay !== "off" && { relay }),
      ...(keyring && { keyring }),
      requireEncryption: o.requireEncryption,
      vouch: async (peer: string) => {
        const text = await vouching.session?.vouchedKey(peer).catch(() => undefined);
        return text === undefined ? undefined : keyFromText(text);
      },
    });
    route.reception = reception;
    // Nothing new arrives while the conversations end.
    const closeBoth = async () => {
      await reception.close();
      await switchboard.close();
    };
    closing.unshift(closeBoth);
    client.start();
    reception.start();
    ui.info(say.listening(listener.local, advertised));
    if (switchboard.groupEndpoint && groupListener) {
      ui.info(say.listeningGroups(groupListener.local, switchboard.groupEndpoint));
    }

    const password = passwordSource(o, ui, address, stop.signal);
    if (o.signup) {
      const secret = await password.get();
      if (!secret) {
        throw new UsageError(signUpText.needsPassword());
      }
      const result = await signUp(client, address, secret, o.signupIterations, stop.signal);
      if (result !== "created") {
        throw new RegistrationError(address, signUpText.refused(address, result));
      }
      ui.info(signUpText.created(address));
    }
    const registration = await withRetry(
      ui,
      stop.signal,
      () =>
        activity.during(
          ask.registering(address),
          () => registerFirst(o, client, address, password, ui, stop.signal),
        ),
    );
    registered = true;
    ui.info(say.registered(address, node));
    const presence = new Presence(ui);
    if (registration.kind === "extended") {
      const domain = address.slice(address.indexOf("@") + 1);
      let renewing = false;
      const renew = async () => {
        if (renewing) return;
        renewing = true;
        try {
          // Never with --replace: an agent that was replaced must not take the session back.
          const again = await register(client, address, password.get, stop.signal);
          if (again.kind === "extended" && extended) extended.session = again.session;
          presence.forgetCounts();
          ui.info(say.registeredAgain(address));
          void presence.refresh();
        } catch (error) {
          if (error instanceof SignedInElsewhereError) endWith(error);
          else if (!(error instanceof AbortedError)) {
            ui.warn(say.cannotRegisterAgain(address, describeError(error)));
          }
        } finally {
          renewing = false;
        }
      };
      extended = new ExtendedSession(client, address, registration.session, {
        clock: o.clock,
        busy: () => switchboard.busy || me.away !== undefined,
        onBuddiesChanged: () => void presence.refresh(),
        onSessionLost: () => void renew(),
        onReplaced: (at) =>
          endWith(new SignedInElsewhereError(address, say.replaced(address, at), at)),
        onContact: (lost) => {
          presence.setContact(lost);
          if (lost) ui.warn(say.lostContact(domain));
          else ui.info(say.backInContact(domain));
        },
      });
      closing.unshift(() => extended?.stop());
      extended.start();
      if (keyring && registration.session.identityKeys) {
        vouching.session = extended;
        // Not awaited: the heartbeats and the user need not wait for the node's answer.
        void extended.publishKey(keyToText(keyring.identity.publicKey)).then(
          (refused) => {
            if (refused === "changed") ui.warn(say.keyBoundElsewhere(address));
            else if (refused === undefined) ui.info(say.keyBound(domain));
          },
          () => {},
        );
      }
      presence.attach(extended);
      ui.info(buddyText.nodeKeepsThem());
      void presence.refresh();
      if (keyring) {
        // Offline messages: what waited while we were away, and `/msg`.
        const mailbox = startMailbox({
          address,
          client,
          identity: keyring.identity,
          extended: () => extended !== undefined,
          ui,
          openNode: (domain) =>
            openNode({
              dns: o.dns ?? systemDns(),
              bindUdp: o.transport.bindUdp,
              clock: o.clock,
              retryIntervalMs: o.retryIntervalMs,
              attempts: o.attempts,
              ...(log && { log }),
            }, domain),
          talk: talkThrough(switchboard, stop.signal),
          ...(history && { history }),
          judge: async (peer, key) => {
            const verdict = await keyring.judge(peer, key);
            return verdict.kind === "changed"
              ? "changed"
              : verdict.kind === "known"
              ? "known"
              : "new";
          },
        }, mailboxRoute);
        closing.unshift(() => mailbox.close());
      }
    }
    ui.info(say.ready());

    const clientContext: ClientContext = {
      ui,
      me,
      roster: () => switchboard.roster,
      send: (text) => switchboard.send(text),
      presence: (address) => {
        const buddy = presence.status(address);
        if (!buddy) return undefined;
        const state = { on: "online", busy: "busy", off: "offline", "?": "unknown" }[buddy.state];
        return { state, where: buddy.endpoint && formatEndpoint(buddy.endpoint) };
      },
      buddies: () => presence.addresses,
      ...(keyring && { encryption: (address: string) => keyring.describe(address) }),
      // Conversations and group links set up from now on use it; open ones keep the old one.
      setNick: (nick) => {
        ui.setPrompt(switchboard.roster.prompt(nick));
        return undefined;
      },
      topics: new Map(),
      ...(mailboxRoute.mailbox && {
        msg: (to: string, text: string) => mailboxRoute.mailbox!.send(to, text),
      }),
    };
    ui.complete = completer(clientContext);
    page?.describe(() => webState(address, clientContext));
    watchTopics(ui, clientContext.topics);
    await commandLoop(
      {
        switchboard,
        presence,
        client,
        ui,
        password: password.get,
        iterations: o.signupIterations,
        ...(history && { history }),
        clientContext,
        activity,
      },
      stop.signal,
    );

    await closeBoth();
    // Replaced by another agent: the session is no longer ours to end.
    if (!stopped) {
      await activity.during(
        ask.deregistering(address),
        () => deregister(client, address, extended, ui, hurry.signal),
      );
    }
    if (client.ignored > 0) ui.info(say.ignored(client.ignored));
    ui.info(say.bye());
    if (stopped) throw new GaveUpError(stopped);
  } catch (error) {
    if (error instanceof AbortedError && stop.signal.aborted) {
      if (stopped) throw new GaveUpError(stopped);
      // Interrupted before being registered (at a prompt, or while registering): not a success.
      if (!registered) throw new AbortedError("interrupted", { cause: error });
      return;
    }
    throw error;
  } finally {
    for (const close of closing) await close();
    o.signal?.removeEventListener("abort", onAbort);
    ui.close();
    await ui.flush?.(2_000);
  }
}

/** Serve the web page on `at` and print its link; throws {@linkcode ListenError} when it cannot. */
function startWebPage(ui: WebUi, at: Endpoint): WebServer {
  let page: WebServer;
  try {
    page = WebServer.start({ at, ui });
  } catch (error) {
    throw new ListenError(webText.cannotListen(formatEndpoint(at), describeError(error)), {
      cause: error,
    });
  }
  if (!isLoopback(page.local.ip)) ui.warn(webText.notLoopback(formatEndpoint(page.local)));
  ui.info(webText.serving(page.url));
  return page;
}

/** Load (or, at the first start, make) the identity key and the pinned keys of `address`. */
async function openKeyring(
  o: ResolvedAgentOptions,
  ui: AgentUi,
  address: string,
): Promise<Keyring> {
  const name = address.replace(/[\/\\]/g, "_");
  const keyring = await Keyring.open({
    address,
    // In the data folder (with the profile and the logs), never the current folder.
    keyFile: o.dataDir ? `${o.dataDir}/${name}.key` : `${name}.key`,
    peersFile: o.dataDir ? `${o.dataDir}/${name}.peers` : `${name}.peers`,
    files: o.keyFiles,
  });
  ui.info(
    keyring.created ? say.identityCreated(keyring.fingerprint) : say.identity(keyring.fingerprint),
  );
  return keyring;
}
