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
import type {
  DeregisterRequest,
  ExtensionReply,
  ExtensionRequest,
  PlumiMessage,
  RegisterReply,
  RegisterRequest,
} from "../plumi/messages.ts";
import { formatPlumi } from "../plumi/codec.ts";
import type { SendAction } from "./core.ts";
import type { Directory, Registration } from "./directory.ts";
import { isV2 } from "../plumi/params.ts";
import {
  BuddyChangeExt,
  BuddyStatusExt,
  type DeregisterError,
  DeregisterExt,
  HeartbeatExt,
  IdentityExt,
  OnlineExt,
  type RegisterError,
  RegisterExt,
  sessionToken,
  type SignUpError,
  SignUpExt,
} from "../plumi/extensions/mod.ts";
import { type AccountStore, StoreError } from "./store.ts";
import { BuddyService, type RemoteBuddies, splitAddress } from "./buddies.ts";
import { onlinePage } from "./online.ts";
import { answerIdentity } from "./identity_keys.ts";
import { SignupLimit } from "./signup_limit.ts";
import { type RelayOffers, relayRequest } from "./relay_offer.ts";
import { mailboxOff, type MailboxService } from "./mailbox_answer.ts";

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
  /** The relay (`[relay]`), when this node offers one. Default: none (`RY1;e=off`). */
  readonly relay?: RelayOffers;
  /** Offline messages (`PM`, `PF`, `PW`; `mailbox.ts`). Default: none (`e=off`). */
  readonly mailbox?: MailboxService;
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
      return RegisterExt.encodeReply({ kind: "refused", error: "store" });
    case "deregister":
      return DeregisterExt.encodeReply({ kind: "refused", error: "store" });
    case "ext-request":
      switch (message.type) {
        case "U":
          return SignUpExt.encodeReply({ kind: "refused", error: "store" });
        case "B":
          return BuddyChangeExt.encodeReply({ kind: "refused", error: "store" });
        case "S":
          return BuddyStatusExt.encodeReply({ kind: "refused", error: "store" });
        case "O":
          return OnlineExt.encodeReply({ kind: "refused", error: "store" });
        case "I":
          return IdentityExt.encodeReply({ kind: "refused", error: "store" });
        default:
          return undefined;
      }
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
  #openSignup: boolean;
  readonly #signups: SignupLimit;
  #onlineList: boolean;
  readonly #minIterations: number;
  readonly #protected = new Set<string>();
  readonly #challenges = new Map<string, Challenge[]>();
  /** Tokens of sessions taken over by another agent, so that their agent is told and stops. */
  readonly #replaced = new Map<string, Replaced>();
  readonly #relay: RelayOffers | undefined;
  readonly #mailbox: MailboxService | undefined;
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
    this.#relay = options.relay;
    this.#mailbox = options.mailbox;
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
    // Who is a user (signed-up accounts included) is the directory's: it was given them.
    for (const name of this.#store.protectedNames()) this.#protected.add(name);
  }

  /**
   * Apply the `[accounts]` settings that may change while the node runs
   * (a reload): sign-up open or closed, sign-ups per source and hour, the
   * online list. Sessions and accounts are untouched.
   */
  applyLive(
    settings: Pick<ExtendedSettings, "openSignup" | "signupsPerHour" | "onlineList">,
  ): void {
    this.#openSignup = settings.openSignup ?? false;
    this.#signups.perHour = settings.signupsPerHour ?? 10;
    this.#onlineList = settings.onlineList ?? true;
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
  }

  /** Was `name` created by sign-up (rather than listed in nodelumi.cfg)? */
  isSignedUp(name: string): boolean {
    return this.#directory.isSignedUp(name);
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

  /** Answer one extended message from `from`; `size` is its length in bytes. `undefined`: no answer. */
  async handle(
    message: PlumiMessage,
    from: Endpoint,
    size: number,
  ): Promise<SendAction | undefined> {
    if (message.kind === "ext-request" && message.type === "Y") {
      return relayRequest(message, from, {
        relay: this.#relay,
        directory: this.#directory,
        isLocal: this.#isLocal,
        caller: (address, params) => this.#caller(address, params, from),
      });
    }
    let answer: PlumiMessage | undefined;
    try {
      answer = await this.#answer(message, from, size);
    } catch (error) {
      // The account database failed (locked, full, read-only): nothing changed; say so, or drop.
      if (!(error instanceof StoreError)) throw error;
      this.storeFailures++;
      answer = storeFailure(message);
    }
    return answer && { kind: "send", to: from, message: answer };
  }

  async #answer(
    message: PlumiMessage,
    from: Endpoint,
    size: number,
  ): Promise<PlumiMessage | undefined> {
    if (message.kind === "register") return await this.#register(message, from, size);
    if (message.kind === "deregister") return this.#deregister(message, from);
    if (message.kind !== "ext-request") return undefined;
    switch (message.type) {
      case "K":
        return this.#heartbeat(message, from, size);
      case "U":
        return this.#signUp(message, from);
      case "B": {
        const owner = this.#caller(message.address, message.params, from);
        if (!owner) return BuddyChangeExt.encodeReply({ kind: "refused", error: "auth" });
        return this.#buddies.change(owner, message);
      }
      case "S": {
        const owner = this.#caller(message.address, message.params, from);
        if (!owner) return BuddyStatusExt.encodeReply({ kind: "refused", error: "auth" });
        return this.#buddies.status(owner, message);
      }
      case "O":
        if (!this.#onlineList) return OnlineExt.encodeReply({ kind: "refused", error: "off" });
        if (!this.#caller(message.address, message.params, from)) {
          return OnlineExt.encodeReply({ kind: "refused", error: "auth" });
        }
        return onlinePage(this.#directory.onlineIndex, message.params);
      case "P":
        return this.#buddies.presenceQuery(message);
      case "I": {
        const owner = this.#caller(message.address, message.params, from);
        if (!owner) return IdentityExt.encodeReply({ kind: "refused", error: "auth" });
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
      case "Y":
        return undefined; // handled by relayRequest, above
      case "M":
      case "F":
      case "W":
        // Offline messages: the one narrow call, with this service's session check.
        return this.#mailbox
          ? await this.#mailbox.handle(message, from, (a, p) => this.#caller(a, p, from))
          : mailboxOff(message);
      default: // every letter of EXTENSION_LETTERS has its case
        return message.type satisfies never;
    }
  }

  async #register(message: RegisterRequest, from: Endpoint, size: number) {
    const address = message.address;
    const [name, domain] = splitAddress(address);
    // Parameters that do not decode (repeated, malformed) are read as none: a bare `PR…;v=2`.
    const decoded = RegisterExt.decodeRequest(message);
    const request = decoded.ok ? decoded.value : { address, replace: false };
    const no = (error: RegisterError, at?: Endpoint): RegisterReply =>
      RegisterExt.encodeReply(at ? { kind: "refused", error, at } : { kind: "refused", error });
    if (!this.#isLocal(domain) || !this.#directory.has(name)) return no("user");
    const credentials = this.#protected.has(name) ? this.#store.get(name)?.credentials : undefined;
    if (credentials) {
      const nonce = request.proof?.nonce;
      const proof = request.proof && fromBase64Url(request.proof.proof);
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
        const challenge = RegisterExt.encodeReply({
          kind: "challenge",
          nonce: fresh,
          salt: toBase64Url(credentials.salt),
          iterations: credentials.iterations,
        });
        // Never answer a short request with a longer challenge (amplification): the agent pads.
        if (size < formatPlumi(challenge).length) return no("pad");
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
    if (held && !request.replace) {
      // Where the other agent is: only to one who proved the password.
      const refused = no("signed-in", credentials ? elsewhere.endpoint : undefined);
      return size < formatPlumi(refused).length ? no("pad") : refused;
    }
    const session = again
      ? current.session!
      : { token: newNonce(), heartbeatMs: this.#heartbeatMs, busy: false };
    const granted = RegisterExt.encodeReply({
      kind: "granted",
      token: session.token,
      heartbeatSeconds: Math.round(this.#heartbeatMs / 1000),
      signupOpen: this.#openSignup,
      onlineList: this.#onlineList,
      // Identity keys (`PI`) are kept and vouched for.
      identityKeys: true,
    });
    // The answer may not be longer than the request (amplification rule): ask for padding
    // before changing anything, rather than registering with an answer that cannot be sent.
    if (size < formatPlumi(granted).length) return no("pad");
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
    const token = sessionToken(params);
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
    const token = sessionToken(params);
    if (!registration?.session || token === undefined || registration.session.token !== token) {
      return undefined;
    }
    return [name, registration];
  }

  #deregister(message: DeregisterRequest, from: Endpoint): PlumiMessage {
    const { address, params } = message;
    const [name, domain] = splitAddress(address);
    const done = (error?: DeregisterError): PlumiMessage =>
      DeregisterExt.encodeReply(error ? { kind: "refused", error } : { kind: "done" });
    if (!this.#isLocal(domain) || !this.#directory.has(name)) return done("user");
    // The agent of a replaced session leaving must not take the newcomer offline.
    if (this.#replacedSession(params) && !this.#caller(address, params, from)) {
      return done("replaced");
    }
    // Already offline: nothing to undo and nothing to protect, so a retransmitted or duplicated PD
    // gets the answer its first copy got.
    if (this.#directory.get(name) === null) return done();
    // Only the address holding the registration may end it; for a user with a password, only
    // with the session's token too.
    const current = this.#directory.get(name)!;
    const holder = current.endpoint.ip === from.ip && current.endpoint.port === from.port;
    if (!holder || (!this.#caller(address, params, from) && this.#protected.has(name))) {
      return done("auth");
    }
    this.#directory.deregister(name);
    return done();
  }

  #heartbeat(message: ExtensionRequest, from: Endpoint, size: number): ExtensionReply {
    const found = this.#session(message.address, message.params);
    if (!found) {
      // Another agent took the session over: its agent is told so, and where, and stops.
      const replaced = this.#replacedSession(message.params);
      if (!replaced) return HeartbeatExt.encodeReply({ kind: "unknown" });
      const told = HeartbeatExt.encodeReply({ kind: "replaced", at: replaced.by });
      return size < formatPlumi(told).length
        ? HeartbeatExt.encodeReply({ kind: "replaced" })
        : told;
    }
    const [name] = found;
    // A body that does not decode (`st=` repeated or unknown) is read as none: not busy.
    const body = HeartbeatExt.decodeRequest(message);
    this.#directory.heartbeat(name, from, this.#now(), body.ok && body.value.busy);
    return HeartbeatExt.encodeReply({ kind: "alive", mark: this.#buddies.stamp(name) });
  }

  #signUp(message: ExtensionRequest, from: Endpoint): ExtensionReply {
    const refused = (error: SignUpError) => SignUpExt.encodeReply({ kind: "refused", error });
    if (!this.#openSignup) return refused("closed");
    const [name, domain] = splitAddress(message.address);
    const request = SignUpExt.decodeRequest(message);
    const salt = request.ok ? fromBase64Url(request.value.salt) : undefined;
    const storedKey = request.ok ? fromBase64Url(request.value.storedKey) : undefined;
    const iterations = request.ok ? request.value.iterations : NaN;
    const valid = this.#isLocal(domain) && userNameProblem(name) === undefined && salt &&
      salt.length >= 16 &&
      storedKey?.length === 32 && Number.isInteger(iterations) &&
      iterations >= this.#minIterations &&
      iterations <= 10 * DEFAULT_ITERATIONS;
    if (!valid || !salt || !storedKey) return refused("invalid");
    const existing = this.#store.get(name);
    // A copy of the sign-up that created this account (a duplicate, or a retransmission whose
    // answer was lost) carries its very salt and key: it gets the same answer, not "taken".
    const stored = existing?.signedUp ? existing.credentials : undefined;
    if (
      stored && stored.iterations === iterations && constantTimeEqual(stored.salt, salt) &&
      constantTimeEqual(stored.storedKey, storedKey)
    ) return SignUpExt.encodeReply({ kind: "created" });
    if (this.#directory.has(name) || existing) return refused("taken");
    // Checked last, so that a copy of an accepted sign-up is still answered RU0 (above).
    if (!this.#signups.allows(from.ip)) return refused("rate");
    this.#store.signUp(name, { salt, iterations, storedKey });
    this.#signups.record(from.ip);
    this.#directory.add(name, "signup");
    this.#protected.add(name);
    return SignUpExt.encodeReply({ kind: "created" });
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
    return this.#directory.expire(this.#now(), {
      heartbeats: this.#missed,
      originalMs: this.#expireOriginalMs,
    });
  }
}
