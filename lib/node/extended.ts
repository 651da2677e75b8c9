/**
 * The node's side of the PLUMI extensions (`v=2`): authenticated
 * registration, sessions and heartbeats, sign-up, buddy lists, buddy
 * status, who is online, and answering other nodes' presence queries.
 * See docs/PROTOCOL.md, "Extensions", for every message.
 *
 * Only agents that sent `v=2` ever get an extended answer; users without a
 * password keep the original behaviour for original agents.
 *
 * @module
 */

import {
  authMessage,
  constantTimeEqual,
  DEFAULT_ITERATIONS,
  fromBase64Url,
  newNonce,
  type StoredCredentials,
  toBase64Url,
  verifyProof,
} from "../auth.ts";
import { type Endpoint, normalizeDomain, userNameProblem } from "../plumi/address.ts";
import {
  type ExtensionReply,
  type ExtensionRequest,
  type PlumiMessage,
  type RegisterReply,
} from "../plumi/messages.ts";
import { formatPlumi } from "../plumi/codec.ts";
import type { SendAction } from "./core.ts";
import type { Directory, Registration } from "./directory.ts";
import { isV2, param } from "../plumi/params.ts";
import { type AccountStore, StoreError } from "./store.ts";
import { BuddyService, type RemoteBuddies, reply, splitAddress } from "./buddies.ts";
import { onlinePage } from "./online.ts";
import { answerIdentity } from "./identity_keys.ts";
import { SignupLimit } from "./signup_limit.ts";

export type { BuddyState, RemoteBuddies } from "./buddies.ts";

/** Settings of the extensions, from the `[accounts]` and `[limits]` sections. */
export interface ExtendedSettings {
  /** Heartbeat interval asked of extended agents, in ms. Default: 30 000. */
  readonly heartbeatMs?: number;
  /** Heartbeats missed before an extended agent is offline. Default: 3. */
  readonly missedHeartbeats?: number;
  /** Original agents' registrations expire after this long without a new PR, in ms; 0 never. Default: 0. */
  readonly expireOriginalMs?: number;
  /** Anyone may create an account. Default: false. */
  readonly openSignup?: boolean;
  /** Accounts one source IP may create per hour (`RU3;e=rate` past it); 0 for no bound. Default: 10. */
  readonly signupsPerHour?: number;
  /** Registered users may list who is online. Default: true. */
  readonly onlineList?: boolean;
  /** Most buddies per user. Default: 200. */
  readonly maxBuddies?: number;
  /** Fewest PBKDF2 iterations accepted at sign-up. Default: 100 000. */
  readonly minIterations?: number;
}

/** Options of {@linkcode ExtendedService}. */
export interface ExtendedOptions {
  readonly domain: string;
  readonly directory: Directory;
  readonly store: AccountStore;
  readonly settings?: ExtendedSettings;
  /** Presence of other domains' buddies. Default: always unknown. */
  readonly remote?: RemoteBuddies;
  /** Is `domain` this node's? */
  readonly isLocal: (domain: string) => boolean;
  /** Wall-clock ms. Default: `Date.now`. */
  readonly now?: () => number;
}

/** Most sources (address and endpoint) with challenges outstanding; the oldest is forgotten first. */
const MAX_CHALLENGES = 10_000;
/** Most challenges outstanding per source: copies of a request each get one, and each stays good. */
const NONCES_PER_SOURCE = 4;
/** How long a challenge's nonce may be answered, in ms. */
const CHALLENGE_MS = 30_000;
/** How long the token of a replaced session is remembered, to tell its agent so, in ms. */
const REPLACED_MS = 10 * 60_000;
/** Most replaced sessions remembered; the oldest is forgotten first. */
const MAX_REPLACED = 10_000;

/** A session another agent took over (`PR…;replace`): where the new one signed in from. */
interface Replaced {
  readonly by: Endpoint;
  readonly until: number;
}

interface Challenge {
  readonly nonce: string;
  readonly until: number;
}

/**
 * The answer to a request that met an account database error (`e=store`,
 * docs/PROTOCOL.md), or `undefined` for a counted drop: heartbeats (the agent
 * sends the next one anyway) and other nodes' presence queries.
 */
function storeFailure(message: PlumiMessage): PlumiMessage | undefined {
  switch (message.kind) {
    case "register":
      return { kind: "register-reply", code: 1, params: ["v=2", "e=store"] };
    case "deregister":
      return { kind: "deregister-reply", code: 1, params: ["v=2", "e=store"] };
    case "ext-request":
      if (message.type === "U") return reply("U", 4, "e=store");
      if (
        message.type === "B" || message.type === "S" || message.type === "O" || message.type === "I"
      ) {
        return reply(message.type, 1, "e=store");
      }
      return undefined;
    default:
      return undefined;
  }
}

/** Handles every extended message a node receives from agents and other nodes. */
export class ExtendedService {
  /** The domain, normalised (lower case, no trailing dot), as watchers' addresses carry it. */
  readonly #domain: string;
  readonly #directory: Directory;
  readonly #store: AccountStore;
  readonly #buddies: BuddyService;
  readonly #isLocal: (domain: string) => boolean;
  readonly #now: () => number;
  readonly #heartbeatMs: number;
  readonly #missed: number;
  readonly #expireOriginalMs: number;
  readonly #openSignup: boolean;
  readonly #signups: SignupLimit;
  readonly #onlineList: boolean;
  readonly #minIterations: number;
  readonly #protected = new Set<string>();
  /** Users created by sign-up (not listed in nodelumi.cfg). */
  readonly #signedUp = new Set<string>();
  readonly #challenges = new Map<string, Challenge[]>();
  /** Tokens of sessions taken over by another agent, so that their agent is told and stops. */
  readonly #replaced = new Map<string, Replaced>();
  /** Proofs that failed, for the console's `stats`. */
  failedProofs = 0;
  /** Requests answered `e=store` or dropped because the account database failed, for `stats`. */
  storeFailures = 0;

  /** Sign-ups refused because their source had created its hour's share of accounts. */
  get refusedSignups(): number {
    return this.#signups.refused;
  }

  constructor(options: ExtendedOptions) {
    const s = options.settings ?? {};
    this.#domain = normalizeDomain(options.domain);
    this.#directory = options.directory;
    this.#store = options.store;
    this.#isLocal = options.isLocal;
    this.#now = options.now ?? Date.now;
    this.#heartbeatMs = s.heartbeatMs ?? 30_000;
    this.#missed = s.missedHeartbeats ?? 3;
    this.#expireOriginalMs = s.expireOriginalMs ?? 0;
    this.#openSignup = s.openSignup ?? false;
    this.#signups = new SignupLimit({
      now: this.#now,
      ...(s.signupsPerHour !== undefined && { perHour: s.signupsPerHour }),
    });
    this.#onlineList = s.onlineList ?? true;
    this.#buddies = new BuddyService({
      domain: options.domain,
      directory: options.directory,
      store: options.store,
      isLocal: options.isLocal,
      ...(options.remote && { remote: options.remote }),
      ...(s.maxBuddies !== undefined && { maxBuddies: s.maxBuddies }),
    });
    this.#minIterations = s.minIterations ?? 100_000;
    for (const account of this.#store.accounts()) {
      if (account.signedUp) {
        this.#directory.add(account.name);
        this.#signedUp.add(account.name);
      }
      if (account.credentials) this.#protected.add(account.name);
    }
  }

  /** Does `name` have a password? (Then only a proven extended PR/PD may change its registration.) */
  isProtected(name: string): boolean {
    return this.#protected.has(name);
  }

  /** Set or replace a user's password (console). */
  setPassword(name: string, credentials: StoredCredentials): void {
    this.#store.setPassword(name, credentials);
    this.#protected.add(name);
  }

  /** Remove a user's password (console). Returns false if it had none. */
  clearPassword(name: string): boolean {
    const had = this.#store.clearPassword(name);
    this.#protected.delete(name);
    return had;
  }

  /** Forget everything stored about a user (console `del`). */
  forget(name: string): void {
    this.#store.remove(name);
    this.#protected.delete(name);
    this.#signedUp.delete(name);
  }

  /** Was `name` created by sign-up (rather than listed in nodelumi.cfg)? */
  isSignedUp(name: string): boolean {
    return this.#signedUp.has(name);
  }

  /** The buddy list of `name`. */
  buddiesOf(name: string): string[] {
    return this.#store.buddies(name);
  }

  /** Does this message belong to the extensions (rather than to the original core)? */
  wants(message: PlumiMessage): boolean {
    switch (message.kind) {
      case "ext-request":
        return true;
      case "register":
      case "deregister":
        return isV2(message.params);
      default:
        return false;
    }
  }

  /** Answer one extended message from `from`; `size` is its length in bytes. */
  async handle(message: PlumiMessage, from: Endpoint, size: number): Promise<SendAction[]> {
    let answer: PlumiMessage | undefined;
    try {
      answer = await this.#answer(message, from, size);
    } catch (error) {
      // The account database failed (locked, full, read-only): nothing changed; say so, or drop.
      if (!(error instanceof StoreError)) throw error;
      this.storeFailures++;
      answer = storeFailure(message);
    }
    return answer ? [{ kind: "send", to: from, message: answer }] : [];
  }

  async #answer(
    message: PlumiMessage,
    from: Endpoint,
    size: number,
  ): Promise<PlumiMessage | undefined> {
    if (message.kind === "register") {
      return await this.#register(message.address, message.params, from, size);
    }
    if (message.kind === "deregister") {
      return this.#deregister(message.address, message.params, from);
    }
    if (message.kind !== "ext-request") return undefined;
    switch (message.type) {
      case "K":
        return this.#heartbeat(message, from, size);
      case "U":
        return this.#signUp(message, from);
      case "B":
      case "S": {
        const owner = this.#caller(message.address, message.params, from);
        if (!owner) return reply(message.type, 1, "e=auth");
        return message.type === "B"
          ? this.#buddies.change(owner, message)
          : this.#buddies.status(owner, message);
      }
      case "O":
        if (!this.#onlineList) return reply("O", 1, "e=off");
        if (!this.#caller(message.address, message.params, from)) return reply("O", 1, "e=auth");
        return onlinePage(this.#directory.onlineIndex, message.params);
      case "P":
        return this.#buddies.presenceQuery(message);
      case "I": {
        const owner = this.#caller(message.address, message.params, from);
        if (!owner) return reply("I", 1, "e=auth");
        return answerIdentity(
          {
            store: this.#store,
            isProtected: (name) => this.#protected.has(name),
            isLocal: this.#isLocal,
          },
          owner,
          message,
        );
      }
    }
  }

  async #register(address: string, params: readonly string[], from: Endpoint, size: number) {
    const [name, domain] = splitAddress(address);
    const no = (...extra: string[]): RegisterReply => ({
      kind: "register-reply",
      code: 1,
      params: ["v=2", ...extra],
    });
    if (!this.#isLocal(domain) || !this.#directory.has(name)) return no("e=user");
    const credentials = this.#protected.has(name) ? this.#store.get(name)?.credentials : undefined;
    if (credentials) {
      const nonce = param(params, "n");
      const proof = fromBase64Url(param(params, "p") ?? "");
      // Challenges are kept per address and source: a stranger asking for challenges cannot
      // void the one an agent is answering, and a copy of a request voids none.
      const source = `${address} ${from.ip}:${from.port}`;
      const pending = this.#challenges.get(source) ?? [];
      const now = this.#now();
      const index = pending.findIndex((c) => c.nonce === nonce && c.until > now);
      let proven = false;
      if (nonce !== undefined && proof && index >= 0) {
        pending.splice(index, 1); // single use: a replayed proof finds no challenge
        if (pending.length === 0) this.#challenges.delete(source);
        proven = await verifyProof(credentials, authMessage("PR", address, nonce), proof);
        if (!proven) this.failedProofs++;
      }
      if (!proven) {
        const fresh = newNonce();
        const challenge = no(
          "e=auth",
          `n=${fresh}`,
          `s=${toBase64Url(credentials.salt)}`,
          `i=${credentials.iterations}`,
        );
        // Never answer a short request with a longer challenge (amplification): the agent pads.
        if (size < formatPlumi(challenge).length) return no("e=pad");
        this.#remember(source, fresh);
        return challenge;
      }
    }
    // A copy of the request that registered this agent (a duplicate, or a retransmission whose
    // answer was lost) keeps its session: a second token would silently end the first one.
    const current = this.#directory.get(name);
    const again = current?.session !== undefined && current.endpoint.ip === from.ip &&
      current.endpoint.port === from.port;
    // One agent per user: a live session elsewhere is kept unless the newcomer asks to replace
    // it; otherwise two agents would take the session from each other at every heartbeat. So is
    // an original agent's registration elsewhere: it has no heartbeat to show it is gone, and
    // could never be told it was replaced (nor would a duplicate leaving then take it offline).
    const elsewhere = current && !again &&
        (current.endpoint.ip !== from.ip || current.endpoint.port !== from.port)
      ? current
      : undefined;
    const held = elsewhere && (elsewhere.session ? this.#live(elsewhere) : true);
    if (held && param(params, "replace") === undefined) {
      // Where the other agent is: only to one who proved the password.
      const refused = credentials
        ? no("e=signed-in", `at=${elsewhere.endpoint.ip}:${elsewhere.endpoint.port}`)
        : no("e=signed-in");
      return size < formatPlumi(refused).length ? no("e=pad") : refused;
    }
    const session = again
      ? current.session!
      : { token: newNonce(), heartbeatMs: this.#heartbeatMs, busy: false };
    const granted: RegisterReply = {
      kind: "register-reply",
      code: 0,
      params: [
        "v=2",
        `t=${session.token}`,
        `hb=${Math.round(this.#heartbeatMs / 1000)}`,
        `su=${this.#openSignup ? 1 : 0}`,
        `ol=${this.#onlineList ? 1 : 0}`,
        // Identity keys (`PI`) are kept and vouched for.
        "ik=1",
      ],
    };
    // The answer may not be longer than the request (amplification rule): ask for padding
    // before changing anything, rather than registering with an answer that cannot be sent.
    if (size < formatPlumi(granted).length) return no("e=pad");
    if (elsewhere?.session) this.#rememberReplaced(elsewhere.session.token, from);
    this.#directory.register(name, from, this.#now(), session);
    return granted;
  }

  /** Is an extended agent's session alive: has it sent a heartbeat within the allowed misses? */
  #live(registration: Registration): boolean {
    const limit = (registration.session?.heartbeatMs ?? 0) * this.#missed;
    return this.#now() - registration.lastSeen <= limit;
  }

  /** Remember that the session of `token` was taken over by an agent at `by`. */
  #rememberReplaced(token: string, by: Endpoint): void {
    const now = this.#now();
    for (const [old, entry] of this.#replaced) {
      if (entry.until > now && this.#replaced.size < MAX_REPLACED) break;
      this.#replaced.delete(old); // oldest first: expired ones, or to make room
    }
    this.#replaced.set(token, { by, until: now + Math.max(REPLACED_MS, this.#heartbeatMs * 3) });
  }

  /** The take-over of the session of `token`, if it was replaced recently. */
  #replacedSession(params: readonly string[]): Replaced | undefined {
    const token = param(params, "t");
    const entry = token === undefined ? undefined : this.#replaced.get(token);
    return entry && entry.until > this.#now() ? entry : undefined;
  }

  /** Keep `nonce` as a challenge sent to `source` (address and endpoint). */
  #remember(source: string, nonce: string): void {
    const pending = this.#challenges.get(source) ?? [];
    this.#challenges.delete(source);
    if (this.#challenges.size >= MAX_CHALLENGES) {
      this.#challenges.delete(this.#challenges.keys().next().value!);
    }
    pending.push({ nonce, until: this.#now() + CHALLENGE_MS });
    if (pending.length > NONCES_PER_SOURCE) pending.shift();
    this.#challenges.set(source, pending);
  }

  /** The registration of `address` if `token` is its session's. */
  #session(address: string, params: readonly string[]): [string, Registration] | undefined {
    const [name, domain] = splitAddress(address);
    if (!this.#isLocal(domain)) return undefined;
    const registration = this.#directory.get(name);
    const token = param(params, "t");
    if (!registration?.session || token === undefined || registration.session.token !== token) {
      return undefined;
    }
    return [name, registration];
  }

  #deregister(address: string, params: readonly string[], from: Endpoint): PlumiMessage {
    const [name, domain] = splitAddress(address);
    const done = (code: 0 | 1, ...extra: string[]): PlumiMessage => ({
      kind: "deregister-reply",
      code,
      params: ["v=2", ...extra],
    });
    if (!this.#isLocal(domain) || !this.#directory.has(name)) return done(1, "e=user");
    // The agent of a replaced session leaving must not take the newcomer offline.
    if (this.#replacedSession(params) && !this.#caller(address, params, from)) {
      return done(1, "e=replaced");
    }
    // Already offline: nothing to undo and nothing to protect, so a retransmitted or duplicated PD
    // gets the answer its first copy got.
    if (this.#directory.get(name) === null) return done(0);
    // Only the address holding the registration may end it; for a user with a password, only
    // with the session's token too.
    const current = this.#directory.get(name)!;
    const holder = current.endpoint.ip === from.ip && current.endpoint.port === from.port;
    if (!holder || (!this.#caller(address, params, from) && this.#protected.has(name))) {
      return done(1, "e=auth");
    }
    this.#directory.deregister(name);
    return done(0);
  }

  #heartbeat(message: ExtensionRequest, from: Endpoint, size: number): ExtensionReply {
    const found = this.#session(message.address, message.params);
    if (!found) {
      // Another agent took the session over: its agent is told so, and where, and stops.
      const replaced = this.#replacedSession(message.params);
      if (!replaced) return reply("K", 1);
      const told = reply("K", 1, "e=replaced", `at=${replaced.by.ip}:${replaced.by.port}`);
      return size < formatPlumi(told).length ? reply("K", 1, "e=replaced") : told;
    }
    const [name, registration] = found;
    registration.lastSeen = this.#now();
    if (registration.endpoint.ip !== from.ip || registration.endpoint.port !== from.port) {
      this.#directory.moveEndpoint(name, from);
    }
    registration.unanswered = 0;
    const busy = param(message.params, "st") === "busy";
    if (registration.session!.busy !== busy) {
      registration.session!.busy = busy;
      this.#directory.touchPresence(name);
    }
    return reply("K", 0, `c=${this.#buddies.stamp(name)}`);
  }

  #signUp(message: ExtensionRequest, from: Endpoint): ExtensionReply {
    if (!this.#openSignup) return reply("U", 3, "e=closed");
    const [name, domain] = splitAddress(message.address);
    const salt = fromBase64Url(param(message.params, "s") ?? "");
    const storedKey = fromBase64Url(param(message.params, "k") ?? "");
    const iterations = Number(param(message.params, "i"));
    const valid = this.#isLocal(domain) && userNameProblem(name) === undefined && salt &&
      salt.length >= 16 &&
      storedKey?.length === 32 && Number.isInteger(iterations) &&
      iterations >= this.#minIterations &&
      iterations <= 10 * DEFAULT_ITERATIONS;
    if (!valid || !salt || !storedKey) return reply("U", 2, "e=invalid");
    const existing = this.#store.get(name);
    // A copy of the sign-up that created this account (a duplicate, or a retransmission whose
    // answer was lost) carries its very salt and key: it gets the same answer, not "taken".
    const stored = existing?.signedUp ? existing.credentials : undefined;
    if (
      stored && stored.iterations === iterations && constantTimeEqual(stored.salt, salt) &&
      constantTimeEqual(stored.storedKey, storedKey)
    ) return reply("U", 0);
    if (this.#directory.has(name) || existing) return reply("U", 1, "e=taken");
    // Checked last, so that a copy of an accepted sign-up is still answered RU0 (above).
    if (!this.#signups.allows(from.ip)) return reply("U", 3, "e=rate");
    this.#store.signUp(name, { salt, iterations, storedKey });
    this.#signups.record(from.ip);
    this.#directory.add(name);
    this.#protected.add(name);
    this.#signedUp.add(name);
    return reply("U", 0);
  }

  /** Authenticate a request by session token and source address. */
  #caller(address: string, params: readonly string[], from: Endpoint): string | undefined {
    const found = this.#session(address, params);
    if (!found) return undefined;
    const [name, registration] = found;
    const { ip, port } = registration.endpoint;
    return ip === from.ip && port === from.port ? name : undefined;
  }

  /**
   * Take offline every extended agent that missed its heartbeats, and every
   * original registration past `expireOriginalMs` (when set). Returns their names.
   */
  sweep(): string[] {
    const now = this.#now();
    const gone: string[] = [];
    for (const [name, registration] of this.#directory.online()) {
      const limit = registration.session
        ? registration.session.heartbeatMs * this.#missed
        : this.#expireOriginalMs;
      if (limit > 0 && now - registration.lastSeen > limit) gone.push(name);
    }
    for (const name of gone) this.#directory.deregister(name);
    return gone;
  }
}
