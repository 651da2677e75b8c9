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
import { chooseAdvertiseIp, type InterfaceAddress } from "./advertise.ts";
import { HELP, parseCommand } from "./commands.ts";
import {
  AbortedError,
  describeError,
  ListenError,
  NodeNotFoundError,
  NodeSilentError,
  RegistrationError,
  UsageError,
} from "./errors.ts";
import { locateNode } from "./locate.ts";
import { PacketLog } from "../packet_log.ts";
import { say } from "./messages.ts";
import {
  type AgentOptions,
  checkAddress,
  checkNick,
  defaultLogFile,
  resolveAgentOptions,
  type ResolvedAgentOptions,
} from "./options.ts";
import {
  ExtendedSession,
  type PasswordSource,
  registerWith,
  type Registration,
  SignedInElsewhereError,
  signUp,
  WrongPasswordError,
} from "./extended_client.ts";
import { PlumiClient } from "./plumi_client.ts";
import { Presence } from "./presence.ts";
import { Session } from "./session.ts";
import { type AgentUi, createConsoleUi } from "./ui.ts";

/** Ask on a TTY until the answer passes `check`; `null` if the input ends or the user stops. */
async function askFor(
  ui: AgentUi,
  question: string,
  check: (answer: string) => string | undefined,
  flag: string,
  signal: AbortSignal,
): Promise<string | null> {
  if (!ui.interactive) {
    throw new UsageError(`Missing ${flag}: it is required when the input is not a terminal`);
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

/**
 * The user was shown `cause` and chose to leave (or the agent had to stop
 * after telling them why): the program exits with the code of `cause`,
 * without printing it again.
 */
export class GaveUpError extends Error {
  override readonly cause: Error;

  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = "GaveUpError";
    this.cause = cause;
  }
}

/** Errors a person at a terminal may want to try again after (the same again would not help). */
function retryable(error: unknown): boolean {
  if (error instanceof WrongPasswordError || error instanceof SignedInElsewhereError) return false;
  return error instanceof NodeNotFoundError || error instanceof NodeSilentError ||
    error instanceof RegistrationError;
}

/**
 * Run `step`; on a retryable failure, a person at a terminal is told why and
 * may try again. Throws {@linkcode GaveUpError} if they chose to leave;
 * rethrows otherwise.
 */
async function withRetry<T>(
  ui: AgentUi,
  signal: AbortSignal,
  step: () => Promise<T>,
): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (!ui.interactive || !retryable(error) || signal.aborted) throw error;
      ui.warn((error as Error).message);
      const answer = await untilAborted(ui.ask("Try again? [Y/n] "), signal);
      if (signal.aborted) throw new AbortedError("interrupted");
      if (answer === null || /^\s*n/i.test(answer)) throw new GaveUpError(error as Error);
    }
  }
}

async function findNode(o: ResolvedAgentOptions, ui: AgentUi, address: string): Promise<Endpoint> {
  if (o.node) return o.node;
  const domain = address.slice(address.indexOf("@") + 1);
  ui.info(say.locating(domain));
  try {
    return await locateNode(domain, o.dns ?? systemDns());
  } catch (error) {
    if (!(error instanceof NodeNotFoundError)) throw error;
    throw new NodeNotFoundError(domain, `Cannot register ${address}: ${error.message}`, {
      cause: error,
    });
  }
}

function openSockets(
  o: ResolvedAgentOptions,
): { socket: DatagramSocket; listener: StreamListener; groupListener?: StreamListener } {
  let listener: StreamListener;
  try {
    listener = o.transport.listenTcp({ ip: o.listenIp, port: o.port });
  } catch (error) {
    throw new ListenError(
      `Cannot listen for conversations on ${o.listenIp}:${o.port}: ${describeError(error)}`,
      { cause: error },
    );
  }
  let groupListener: StreamListener | undefined;
  if (o.maxGroups > 0) {
    try {
      groupListener = o.transport.listenTcp({ ip: o.listenIp, port: o.groupPort });
    } catch (error) {
      listener.close();
      throw new ListenError(
        `Cannot listen for group links on ${o.listenIp}:${o.groupPort}: ${describeError(error)}`,
        { cause: error },
      );
    }
  }
  try {
    return { socket: o.transport.bindUdp({ ip: "0.0.0.0", port: 0 }), listener, groupListener };
  } catch (error) {
    listener.close();
    groupListener?.close();
    throw new ListenError(`Cannot open a UDP socket: ${describeError(error)}`, { cause: error });
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

async function register(
  client: PlumiClient,
  address: string,
  password: PasswordSource,
  signal: AbortSignal,
  replace = false,
): Promise<Registration> {
  const where = `Cannot register ${address} with node ${formatEndpoint(client.node)}`;
  try {
    return await registerWith(client, address, password, { signal, replace });
  } catch (error) {
    if (error instanceof NodeSilentError) {
      throw new NodeSilentError(error.node, error.attempts, { cause: error }, where);
    }
    throw error;
  }
}

/** The password, and what to do when the node refuses it. */
interface Password {
  /** Given in the options, else asked on a terminal (hidden) when the node wants one, else none. */
  readonly get: PasswordSource;
  /** The node refused it: a typed password is forgotten (asked again, `true`); a given one cannot be. */
  refused(): boolean;
}

function passwordSource(
  o: ResolvedAgentOptions,
  ui: AgentUi,
  address: string,
  signal: AbortSignal,
): Password {
  let known = o.password;
  let typed = false;
  return {
    get: async () => {
      if (known === undefined && ui.interactive) {
        const question = `Password for ${address}: `;
        const answer = await untilAborted(
          ui.askSecret ? ui.askSecret(question) : ui.ask(question),
          signal,
        );
        // Ctrl-C at the prompt: leave (the prompt itself does not end on an interrupt).
        if (signal.aborted) throw new AbortedError("interrupted");
        known = answer ?? undefined;
        typed = known !== undefined;
      }
      return known;
    },
    refused: () => {
      if (!typed) return false;
      known = undefined;
      typed = false;
      return true;
    },
  };
}

/** Most passwords asked in a row on a terminal before the agent gives up. */
const PASSWORD_TRIES = 3;

/**
 * Register, dealing with what the user can fix at once: a wrong typed
 * password is asked again (a wrong `LUMI_PASSWORD` is said to be wrong); on a
 * terminal, when another agent is signed in, the user may take over.
 */
async function registerFirst(
  o: ResolvedAgentOptions,
  client: PlumiClient,
  address: string,
  password: Password,
  ui: AgentUi,
  signal: AbortSignal,
): Promise<Registration> {
  let replace = o.replace;
  for (let tries = 1;; tries++) {
    try {
      return await register(client, address, password.get, signal, replace);
    } catch (error) {
      if (error instanceof WrongPasswordError) {
        if (!password.refused()) {
          throw new WrongPasswordError(address, say.wrongPasswordFrom(address, o.passwordOrigin));
        }
        if (tries >= PASSWORD_TRIES) throw error;
        ui.warn(say.wrongPassword(address));
        continue;
      }
      if (error instanceof SignedInElsewhereError && ui.interactive && !replace) {
        ui.warn(error.message);
        const answer = await untilAborted(ui.ask(say.takeOver()), signal);
        if (signal.aborted) throw new AbortedError("interrupted");
        if (answer === null || !/^\s*y/i.test(answer)) throw new GaveUpError(error);
        replace = true;
        continue;
      }
      throw error;
    }
  }
}

async function deregister(
  client: PlumiClient,
  address: string,
  extended: ExtendedSession | undefined,
  ui: AgentUi,
  signal: AbortSignal,
): Promise<void> {
  try {
    let refused: string | undefined;
    if (extended) refused = await extended.deregister(signal);
    else {
      const reply = await client.request(
        { kind: "deregister", address, params: [] },
        (m) => m.kind === "deregister-reply",
        signal,
      );
      // An original node refuses a user it does not know; ours also a PD from anywhere but the
      // agent that holds the registration (another agent signed in as this user since).
      if (reply.kind !== "deregister-reply" || reply.code !== 0) {
        refused = "the node refused it (it does not know this user, or another agent holds " +
          "the registration)";
      }
    }
    if (refused === undefined) ui.info(say.deregistered(address));
    else ui.warn(say.deregisterFailed(address, refused));
  } catch (error) {
    if (error instanceof AbortedError) ui.warn(say.deregisterFailed(address, "interrupted"));
    else ui.warn(say.deregisterFailed(address, describeError(error)));
  }
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
  const ui = o.ui ?? createConsoleUi();
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
    const nick = o.nick ?? await askFor(ui, "Nickname: ", checkNick, "--nick", stop.signal);
    if (nick === null) return;
    const address = o.address ??
      await askFor(ui, "Address (name@domain): ", checkAddress, "--address", stop.signal);
    if (address === null) return;
    ui.setPrompt(`${nick}> `);

    let log: PacketLog | undefined;
    if (o.logFile !== false) {
      const path = o.logFile ?? defaultLogFile(address);
      try {
        const sink = await o.openLog(path);
        log = new PacketLog({
          sink,
          clock: o.clock,
          flushMs: o.logFlushMs,
          onError: (error) => ui.warn(`The packet log ${path} failed: ${describeError(error)}`),
        });
        closing.push(() => log!.close());
      } catch (error) {
        ui.warn(
          `Cannot open the packet log ${path} (${describeError(error)}); going on without it`,
        );
      }
    }

    const node = await withRetry(ui, stop.signal, () => findNode(o, ui, address));
    const { socket, listener, groupListener } = openSockets(o);
    const advertised = { ip: advertisedIp(o, node), port: listener.local.port };
    // Look-ups may arrive as soon as the client runs; they go to the session once it exists.
    const route: { session?: Session } = {};
    const client = new PlumiClient({
      socket,
      node: node,
      clock: o.clock,
      retryIntervalMs: o.retryIntervalMs,
      attempts: o.attempts,
      log,
      onLookup: (request, from) => route.session?.handleLookup(request, from) ?? false,
    });
    closing.unshift(() => client.close());
    const session = new Session({
      address,
      nick,
      client,
      listener,
      groupListener,
      advertised,
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
      maxPendingHandshakes: o.maxPendingHandshakes,
      maxPendingPerIp: o.maxPendingPerIp,
      refusalReportMs: o.refusalReportMs,
    });
    route.session = session;
    closing.unshift(() => session.close());
    client.start();
    session.start();
    ui.info(say.listening(listener.local, advertised));
    if (session.groupEndpoint && groupListener) {
      ui.info(say.listeningGroups(groupListener.local, session.groupEndpoint));
    }

    const password = passwordSource(o, ui, address, stop.signal);
    if (o.signup) {
      const secret = await password.get();
      if (!secret) {
        throw new UsageError("--signup needs a password: set LUMI_PASSWORD, or run on a terminal");
      }
      const result = await signUp(client, address, secret, o.signupIterations, stop.signal);
      if (result !== "created") {
        const why = {
          taken: "the name is taken",
          invalid: "the node refused the name or the request",
          closed: "the node does not allow sign-up (ask its administrator)",
        }[result];
        throw new RegistrationError(address, `Cannot sign up ${address}: ${why}`);
      }
      ui.info(`Account ${address} created`);
    }
    const registration = await withRetry(
      ui,
      stop.signal,
      () => registerFirst(o, client, address, password, ui, stop.signal),
    );
    registered = true;
    ui.info(say.registered(address, node));
    const presence = new Presence(ui);
    let extended: ExtendedSession | undefined;
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
        busy: () => session.busy,
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
      presence.attach(extended);
      ui.info("This node keeps your buddies: /buddies, /add, /del, /online");
      void presence.refresh();
    }
    ui.info(say.ready());

    await commandLoop(
      { session, presence, client, ui, password: password.get, iterations: o.signupIterations },
      stop.signal,
    );

    await session.close();
    // Replaced by another agent: the session is no longer ours to end.
    if (!stopped) await deregister(client, address, extended, ui, hurry.signal);
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
  }
}

interface Loop {
  readonly session: Session;
  readonly presence: Presence;
  readonly client: PlumiClient;
  readonly ui: AgentUi;
  readonly password: PasswordSource;
  readonly iterations: number;
}

async function commandLoop(loop: Loop, signal: AbortSignal): Promise<void> {
  const { session, presence, ui } = loop;
  for (;;) {
    const line = await untilAborted(ui.readLine(), signal);
    if (line === null) return;
    const command = parseCommand(line, session.talking);
    switch (command.kind) {
      case "quit":
        return;
      case "call":
        await session.call(command.address, signal);
        break;
      case "say":
        session.send(command.text);
        break;
      case "exit":
        await session.hangUp();
        break;
      case "list":
        session.list();
        break;
      case "switch":
        session.switchTo(command.target);
        break;
      case "close":
        await session.closeTarget(command.target);
        break;
      case "group":
        session.startGroup(command.name);
        break;
      case "invite":
        await session.invite(command.address, signal);
        break;
      case "leave":
        await session.leave(command.target);
        break;
      case "wait":
        await session.wait(signal);
        break;
      case "buddy-add":
        await presence.add(command.address);
        break;
      case "buddy-del":
        await presence.remove(command.address);
        break;
      case "buddies":
        await presence.show();
        break;
      case "online":
        await presence.online();
        break;
      case "signup": {
        const secret = command.password ??
          (ui.interactive
            ? await untilAborted(
              (ui.askSecret ?? ui.ask).call(ui, `Password for ${command.address}: `),
              signal,
            )
            : null);
        if (signal.aborted) return;
        if (!secret) {
          ui.warn("Usage: /signup <address> [password] (the password is asked on a terminal)");
        } else await presence.signUp(loop.client, command.address, secret, loop.iterations);
        break;
      }
      case "help":
        for (const text of HELP) ui.info(text);
        break;
      case "invalid":
        ui.warn(command.message);
        break;
      case "nothing":
        break;
    }
  }
}
