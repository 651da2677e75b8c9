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
import { domainExists, locateNodes } from "./locate.ts";
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
  signUp,
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
    if (answer === null) return null;
    const text = answer.trim();
    const problem = check(text);
    if (!problem) return text;
    ui.warn(problem);
  }
}

/** Errors a person at a terminal may want to try again after. */
function retryable(error: unknown): boolean {
  return error instanceof NodeNotFoundError || error instanceof NodeSilentError ||
    error instanceof RegistrationError;
}

/**
 * Run `step`; on a retryable failure, a person at a terminal is told why and
 * may try again. Resolves `null` if they chose to quit; rethrows otherwise.
 */
async function withRetry<T>(
  ui: AgentUi,
  signal: AbortSignal,
  step: () => Promise<T>,
): Promise<T | null> {
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (!ui.interactive || !retryable(error) || signal.aborted) throw error;
      ui.warn((error as Error).message);
      const answer = await untilAborted(ui.ask("Try again? [Y/n] "), signal);
      if (answer === null || /^\s*n/i.test(answer)) return null;
    }
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
): Promise<Registration> {
  const where = `Cannot register ${address} with node ${formatEndpoint(client.node)}`;
  try {
    return await registerWith(client, address, password, signal);
  } catch (error) {
    if (error instanceof NodeSilentError) {
      throw new NodeSilentError(error.node, error.attempts, { cause: error }, where);
    }
    throw error;
  }
}

/** The password: given in the options, else asked once on a terminal (hidden), else none. */
function passwordSource(o: ResolvedAgentOptions, ui: AgentUi, address: string): PasswordSource {
  let known = o.password;
  return async () => {
    if (known === undefined && ui.interactive) {
      known = (await (ui.askSecret
        ? ui.askSecret(`Password for ${address}: `)
        : ui.ask(`Password for ${address}: `))) ??
        undefined;
    }
    return known;
  };
}

async function deregister(
  client: PlumiClient,
  address: string,
  extended: ExtendedSession | undefined,
  ui: AgentUi,
  signal: AbortSignal,
): Promise<void> {
  try {
    let done: boolean;
    if (extended) done = await extended.deregister(signal);
    else {
      const reply = await client.request(
        { kind: "deregister", address, params: [] },
        (m) => m.kind === "deregister-reply",
        signal,
      );
      done = reply.kind === "deregister-reply" && reply.code === 0;
    }
    if (done) ui.info(say.deregistered(address));
    else ui.warn(say.deregisterFailed(address, "the node does not know this user"));
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

    const nodes = await withRetry(ui, stop.signal, () => findNode(o, ui, address));
    if (nodes === null) return;
    const node = nodes[0]!;
    const { socket, listener, groupListener } = openSockets(o);
    const advertised = { ip: advertisedIp(o, node), port: listener.local.port };
    // Look-ups may arrive as soon as the client runs; they go to the session once it exists.
    const route: { session?: Session } = {};
    const client = new PlumiClient({
      socket,
      node: node,
      trusted: nodes,
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
      domainExists: (domain) => domainExists(domain, o.dns ?? systemDns()),
    });
    route.session = session;
    closing.unshift(() => session.close());
    client.start();
    session.start();
    ui.info(say.listening(listener.local, advertised));
    if (session.groupEndpoint && groupListener) {
      ui.info(say.listeningGroups(groupListener.local, session.groupEndpoint));
    }

    const password = passwordSource(o, ui, address);
    if (o.signup) {
      const secret = await password();
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
      () => register(client, address, password, stop.signal),
    );
    if (registration === null) return;
    ui.info(say.registered(address, node));
    const presence = new Presence(ui);
    let extended: ExtendedSession | undefined;
    if (registration.kind === "extended") {
      const renew = async () => {
        try {
          const again = await register(client, address, password, stop.signal);
          if (again.kind === "extended" && extended) extended.session = again.session;
          ui.info(`Registered ${address} again (the node had forgotten the session)`);
        } catch (error) {
          ui.warn(`Cannot register ${address} again: ${describeError(error)}`);
        }
      };
      extended = new ExtendedSession(client, address, registration.session, {
        clock: o.clock,
        busy: () => session.busy,
        onBuddiesChanged: () => void presence.refresh(),
        onSessionLost: () => void renew(),
      });
      closing.unshift(() => extended?.stop());
      extended.start();
      presence.attach(extended);
      ui.info("This node keeps your buddies: /buddies, /add, /del, /online");
      void presence.refresh(false);
    }
    ui.info(say.ready());

    await commandLoop(
      { session, presence, client, ui, password, iterations: o.signupIterations },
      stop.signal,
    );

    await session.close();
    await deregister(client, address, extended, ui, hurry.signal);
    if (client.ignored > 0) ui.info(say.ignored(client.ignored));
    ui.info(say.bye());
  } catch (error) {
    if (error instanceof AbortedError && stop.signal.aborted) return;
    throw error;
  } finally {
    for (const close of closing) await close();
    o.signal?.removeEventListener("abort", onAbort);
    ui.close();
    await ui.flush?.(2_000);
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
            ? (await (ui.askSecret ?? ui.ask).call(ui, `Password for ${command.address}: `))
            : null);
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
