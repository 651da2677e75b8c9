/**
 * The agent's side of the PLUMI extensions (`v=2`, docs/PROTOCOL.md):
 * registration with a password proof, heartbeats, sign-up, buddy lists,
 * buddy status and who is online. With an original node (which answers a
 * bare `RR0`), none of this is ever sent.
 *
 * @module
 */

import {
  authMessage,
  type Bytes,
  createCredentials,
  DEFAULT_ITERATIONS,
  deriveClientKey,
  fromBase64Url,
  makeProof,
  toBase64Url,
} from "../auth.ts";
import type { Clock, TimerHandle } from "../clock.ts";
import { type Endpoint, formatEndpoint, parsePort } from "../plumi/address.ts";
import { formatPlumi } from "../plumi/codec.ts";
import type { ExtensionReply, ExtensionType, RegisterRequest } from "../plumi/messages.ts";
import { isV2, param, params as allParams } from "../plumi/params.ts";
import { NodeSilentError, RegistrationError } from "./errors.ts";
import { report } from "./messages.ts";
import type { PlumiClient } from "./plumi_client.ts";
import { signupOpen } from "./signup_probe.ts";

/** What an extended node granted at registration. */
export interface NodeSession {
  /** Secret proving later requests are this agent's. */
  readonly token: string;
  /** Heartbeat interval the node asks for, in ms. */
  readonly heartbeatMs: number;
  /** Sign-up is open on this node. */
  readonly signupOpen: boolean;
  /** The online list is available. */
  readonly onlineList: boolean;
}

/** The outcome of {@linkcode registerWith}. */
export type Registration =
  | { readonly kind: "original" }
  | { readonly kind: "extended"; readonly session: NodeSession };

/** Where the password comes from when the node asks for one (called at most once). */
export type PasswordSource = () => Promise<string | undefined>;

/** A PR without proof is padded to this many bytes, so the node may answer with a challenge. */
const PADDED_PR_BYTES = 100;

function pad(message: RegisterRequest): RegisterRequest {
  const length = formatPlumi(message).length;
  const room = PADDED_PR_BYTES - length - 3; // ";x="
  return room > 0 ? { ...message, params: [...message.params, `x=${"-".repeat(room)}`] } : message;
}

function domainOf(address: string): string {
  return address.slice(address.indexOf("@") + 1);
}

/**
 * The first `PR` an agent sends: `PR<address>;v=2`, padded to 100 bytes with
 * `;x=---…` so that an extended node may answer with a challenge. An
 * original node ignores everything after the address.
 */
export function firstRegistration(address: string): RegisterRequest {
  return pad({ kind: "register", address, params: ["v=2"] });
}

/**
 * Register `address` with the node, in the extended protocol if the node
 * speaks it: `PR…;v=2`, answering a password challenge with a proof when
 * the user has a password. Throws {@linkcode RegistrationError} with a
 * plain-words reason on refusal, {@linkcode NodeSilentError} when the node
 * is silent.
 */
export async function registerWith(
  client: PlumiClient,
  address: string,
  password: PasswordSource,
  signal?: AbortSignal,
): Promise<Registration> {
  const first = await client.request(
    firstRegistration(address),
    (m) => m.kind === "register-reply",
    signal,
  );
  if (first.kind !== "register-reply") throw new Error("unreachable");
  if (!isV2(first.params)) {
    if (first.code === 0) return { kind: "original" };
    throw new RegistrationError(
      address,
      `Cannot register ${address}: the node of ${domainOf(address)} does not know this user`,
    );
  }
  if (first.code === 0) return { kind: "extended", session: sessionOf(first.params) };
  const error = param(first.params, "e");
  if (error === "user" && await signupOpen(client, address, signal)) {
    throw new RegistrationError(
      address,
      `${refusal(address, error).message}; ${report.signupHint(address)}`,
    );
  }
  if (error !== "auth") throw refusal(address, error);

  const secret = await password();
  if (secret === undefined || secret === "") {
    throw new RegistrationError(
      address,
      `Cannot register ${address}: this user has a password; give it (LUMI_PASSWORD, or type it when asked)`,
    );
  }
  let challenge: readonly string[] = first.params;
  let clientKey: Bytes | undefined;
  let salt = "";
  for (let attempt = 0; attempt < 2; attempt++) {
    const nonce = param(challenge, "n") ?? "";
    const s = param(challenge, "s") ?? "";
    const iterations = Number(param(challenge, "i"));
    const saltBytes = fromBase64Url(s);
    if (!saltBytes || !Number.isInteger(iterations) || iterations < 1) {
      throw refusal(address, "bad-challenge");
    }
    if (!clientKey || s !== salt) {
      clientKey = await deriveClientKey(secret, saltBytes, iterations);
      salt = s;
    }
    const proof = toBase64Url(await makeProof(clientKey, authMessage("PR", address, nonce)));
    const answer = await client.request(
      { kind: "register", address, params: ["v=2", `n=${nonce}`, `p=${proof}`] },
      (m) => m.kind === "register-reply",
      signal,
    );
    if (answer.kind !== "register-reply") throw new Error("unreachable");
    if (answer.code === 0 && isV2(answer.params)) {
      return { kind: "extended", session: sessionOf(answer.params) };
    }
    if (param(answer.params, "e") !== "auth") throw refusal(address, param(answer.params, "e"));
    // A new challenge: either the password is wrong, or our proof arrived twice (a lost answer
    // made us send it again, and the second copy found its nonce spent). Try once more.
    challenge = answer.params;
  }
  throw new RegistrationError(address, `Cannot register ${address}: wrong password`);
}

function sessionOf(params: readonly string[]): NodeSession {
  return {
    token: param(params, "t") ?? "",
    heartbeatMs: Math.max(1, Number(param(params, "hb")) || 30) * 1000,
    signupOpen: param(params, "su") === "1",
    onlineList: param(params, "ol") !== "0",
  };
}

function refusal(address: string, code: string | undefined): RegistrationError {
  const domain = domainOf(address);
  const why = code === "user"
    ? `the node of ${domain} does not know this user`
    : code === "pad"
    ? "the node wants a longer request (this agent is out of date)"
    : `the node refused it (${code ?? "no reason given"})`;
  return new RegistrationError(address, `Cannot register ${address}: ${why}`);
}

/** The answer to a sign-up. */
export type SignUpResult = "created" | "taken" | "invalid" | "closed";

/**
 * Create the account `address` with `password` on the node. Only the salt,
 * iteration count and stored key travel; never the password.
 */
export async function signUp(
  client: PlumiClient,
  address: string,
  password: string,
  iterations: number = DEFAULT_ITERATIONS,
  signal?: AbortSignal,
): Promise<SignUpResult> {
  const credentials = await createCredentials(password, iterations);
  const reply = await client.request(
    {
      kind: "ext-request",
      type: "U",
      address,
      params: [
        `s=${toBase64Url(credentials.salt)}`,
        `i=${credentials.iterations}`,
        `k=${toBase64Url(credentials.storedKey)}`,
      ],
    },
    (m) => m.kind === "ext-reply" && m.type === "U",
    signal,
  );
  const code = reply.kind === "ext-reply" ? reply.code : -1;
  return (["created", "taken", "invalid", "closed"] as const)[code] ?? "invalid";
}

/** A buddy and what the node shows of it. */
export interface BuddyStatus {
  readonly address: string;
  /** `on`, `busy`, `off`, or `?` (not shared with you, or unknown). */
  readonly state: "on" | "busy" | "off" | "?";
  readonly endpoint?: Endpoint;
}

/** Why a buddy change was refused, in plain words. */
const BUDDY_ERRORS: Record<string, string> = {
  auth: "the node no longer knows this session",
  invalid: "that is not an address",
  self: "you cannot add yourself",
  full: "your buddy list is full",
  absent: "not on your buddy list",
};

/** Options of {@linkcode ExtendedSession}. */
export interface ExtendedSessionOptions {
  readonly clock: Clock;
  /** Is the agent in a conversation now (sent with heartbeats as `st=busy`)? */
  readonly busy?: () => boolean;
  /** The node's mark of what we may see of our buddies changed. */
  readonly onBuddiesChanged?: () => void;
  /** The node forgot the session (restart, expiry): register again. */
  readonly onSessionLost?: () => void;
}

/** An extended registration: heartbeats, buddies, status, online list, deregistration. */
export class ExtendedSession {
  readonly address: string;
  session: NodeSession;
  readonly #client: PlumiClient;
  readonly #options: ExtendedSessionOptions;
  #timer: TimerHandle | undefined;
  #mark: string | undefined;
  #stopped = false;
  /** One request at a time: answers are told apart only by their type. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(
    client: PlumiClient,
    address: string,
    session: NodeSession,
    options: ExtendedSessionOptions,
  ) {
    this.#client = client;
    this.address = address;
    this.session = session;
    this.#options = options;
  }

  /** Send heartbeats every interval until {@linkcode ExtendedSession.stop}. */
  start(): void {
    this.#schedule();
  }

  /** Stop the heartbeats. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#options.clock.clearTimeout(this.#timer);
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#options.clock.setTimeout(() => void this.#beat(), this.session.heartbeatMs);
  }

  async #beat(): Promise<void> {
    try {
      const reply = await this.#ask("K", [...(this.#options.busy?.() ? ["st=busy"] : [])]);
      if (reply.code === 1) {
        this.#options.onSessionLost?.();
        return;
      }
      const mark = param(reply.params, "c");
      // The first mark counts as a change too: the buddies may have changed since they were last fetched.
      if (mark !== undefined && mark !== this.#mark) {
        this.#options.onBuddiesChanged?.();
      }
      this.#mark = mark;
    } catch (error) {
      if (!(error instanceof NodeSilentError)) throw error;
      // A silent node: keep beating; the node expires us if it really is gone.
    } finally {
      this.#schedule();
    }
  }

  #ask(type: ExtensionType, extra: readonly string[]): Promise<ExtensionReply> {
    const run = async () => {
      const reply = await this.#client.request(
        {
          kind: "ext-request",
          type,
          address: this.address,
          params: [`t=${this.session.token}`, ...extra],
        },
        (m) => m.kind === "ext-reply" && m.type === type,
      );
      return reply as ExtensionReply;
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Add a buddy (any domain). Resolves to an error text, or `undefined` when done. */
  async addBuddy(buddy: string): Promise<string | undefined> {
    const reply = await this.#ask("B", ["op=add", `b=${buddy}`]);
    return reply.code === 0 ? undefined : BUDDY_ERRORS[param(reply.params, "e") ?? ""] ?? "refused";
  }

  /** Remove a buddy. Resolves to an error text, or `undefined` when done. */
  async removeBuddy(buddy: string): Promise<string | undefined> {
    const reply = await this.#ask("B", ["op=del", `b=${buddy}`]);
    return reply.code === 0 ? undefined : BUDDY_ERRORS[param(reply.params, "e") ?? ""] ?? "refused";
  }

  /** Every page of `type` (`S` or `O`), concatenated: the values of `key` parameters. */
  async #pages(type: "S" | "O", key: string): Promise<string[] | undefined> {
    const out: string[] = [];
    for (let page = 1, pages = 1; page <= pages && page <= 1000; page++) {
      const reply = await this.#ask(type, [`p=${page}`]);
      if (reply.code !== 0) return undefined;
      pages = Number((param(reply.params, "p") ?? "1/1").split("/")[1]) || 1;
      out.push(...allParams(reply.params, key));
    }
    return out;
  }

  /** The status of every buddy, or `undefined` if the node refused. */
  async buddies(): Promise<BuddyStatus[] | undefined> {
    const entries = await this.#pages("S", "b");
    return entries?.map((entry) => {
      const [state, ip, port] = entry.split(",", 3) as [string, string, string];
      const address = entry.split(",").slice(3).join(",");
      const p = parsePort(port);
      return {
        address,
        state: (["on", "busy", "off"].includes(state) ? state : "?") as BuddyStatus["state"],
        ...(ip && p.ok && { endpoint: { ip, port: p.value } }),
      };
    });
  }

  /** The online users of the domain, or `undefined` if the node refused (list turned off). */
  async online(): Promise<string[] | undefined> {
    return await this.#pages("O", "u");
  }

  /** Deregister (`PD…;v=2;t=…`). Resolves true when the node confirmed. */
  async deregister(signal?: AbortSignal): Promise<boolean> {
    this.stop();
    const reply = await this.#client.request(
      { kind: "deregister", address: this.address, params: ["v=2", `t=${this.session.token}`] },
      (m) => m.kind === "deregister-reply",
      signal,
    );
    return reply.kind === "deregister-reply" && reply.code === 0;
  }
}

/** A buddy's line in `/buddies`, e.g. `joan@cc.com  online  10.0.0.7:4000`. */
export function describeBuddy(buddy: BuddyStatus): string {
  const state = { on: "online", busy: "busy", off: "offline", "?": "unknown" }[buddy.state];
  return `${buddy.address.padEnd(32)} ${state.padEnd(8)}${
    buddy.endpoint ? ` ${formatEndpoint(buddy.endpoint)}` : ""
  }`;
}
