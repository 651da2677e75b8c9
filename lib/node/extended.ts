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
  depositSender,
  type DeregisterError,
  DeregisterExt,
  deriveSessionKey,
  type ExtRegisterReply,
  type ExtRegisterRequest,
  HeartbeatExt,
  IdentityExt,
  newSessionKeyPair,
  NO_COUNTER,
  OnlineExt,
  type RegisterError,
  RegisterExt,
  registerSessionKey,
  type SealedRequest,
  sealGrant,
  type SignUpError,
  SignUpExt,
  unseal,
} from "../plumi/extensions/mod.ts";
import {
  checkSeal,
  MemorySessionKeys,
  type SessionKeys,
  type SessionKeyStore,
} from "./session_keys.ts";
import { type AccountStore, StoreError } from "./store.ts";
import { BuddyService, type RemoteBuddies, splitAddress } from "./buddies.ts";
import { onlinePage } from "./online.ts";
import { answerIdentity, answerVouchQuery } from "./identity_keys.ts";
import type { Federation } from "./federation.ts";
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
  /** Vouching and relays across domains. Default: none (`RI2`, `RY1;e=domain` for other domains). */
  readonly federation?: Federation;
  /** Where the sessions' keys and counters are kept. Default: in memory. */
  readonly sessionKeys?: SessionKeyStore;
  /** Offline messages (`PM`, `PF`, `PW`; `mailbox.ts`). Default: none (`e=off`). */
  readonly mailbox?: MailboxService;
}

/** Most sources (address and endpoint) with challenges outstanding; the oldest is forgotten first. */
const MAX_CHALLENGES = 10_000;
/** Most challenges outstanding per source: copies of a request each get one, and each stays good. */
const NONCES_PER_SOURCE = 4;
/** How long a challenge's nonce may be answered, in ms. */
const CHALLENGE_MS = 30_000;
/** How long the keys of a replaced session are remembered, to tell its agent so, in ms. */
const REPLACED_MS = 10 * 60_000;
/** Most users with replaced sessions remembered; the oldest is forgotten first. */
const MAX_REPLACED = 10_000;
/** Replaced sessions remembered per user. */
const REPLACED_PER_USER = 4;

/** A session another agent took over (`PR…;replace`): where the new one signed in from. */
interface Replaced {
  readonly by: Endpoint;
  readonly until: number;
  /** The old session's keys: its agent's requests are still recognised, once each. */
  keys: SessionKeys;
}

interface Challenge {
  readonly nonce: string;
  readonly until: number;
  /** The agent's session key (`k=` of the `PR` that asked): the proof must name it. */
  readonly agentKey: string;
}

/**
 * Who sent a sealed request, by its seal (`q=`, `m=`; `session.ts`):
 * the session's agent (`body`: the request without the seal), the agent of
 * a session taken over, nobody's session (the user has none), or not the
 * session's agent (`sealed`: the request had a seal, which failed).
 */
type Sealer<M extends SealedRequest> =
  | {
    readonly kind: "session";
    readonly name: string;
    readonly registration: Registration;
    readonly body: M;
  }
  | { readonly kind: "replaced"; readonly by: Endpoint }
  | { readonly kind: "none" }
  | { readonly kind: "refused"; readonly sealed: boolean };

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
  /** By source (address and endpoint): the challenges outstanding, and the agent key of the last. */
  readonly #challenges = new Map<string, { pending: Challenge[]; agentKey: string }>();
  /** Sessions taken over by another agent, by user name, so that their agent is told and stops. */
  readonly #replaced = new Map<string, Replaced[]>();
  readonly #keys: SessionKeyStore;
  readonly #relay: RelayOffers | undefined;
  readonly #federation: Federation | undefined;
  readonly #mailbox: MailboxService | undefined;
  /** Proofs that failed, for the console's `stats`. */
  failedProofs = 0;
  /** Requests refused because their seal failed (changed, a copy, another key), for `stats`. */
  refusedSeals = 0;
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
    this.#federation = options.federation;
    this.#keys = options.sessionKeys ?? new MemorySessionKeys();
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
    this.#keys.delete(name);
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
      const sealer = this.#unseal(message, size, from);
      return relayRequest(sealer.kind === "session" ? sealer.body : message, from, {
        relay: this.#relay,
        directory: this.#directory,
        isLocal: this.#isLocal,
        caller: () => this.#caller(sealer, from),
        ...(this.#federation &&
          { elsewhere: this.#federation.relay.forward.bind(this.#federation.relay) }),
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
    if (message.kind === "deregister") return this.#deregister(message, from, size);
    if (message.kind !== "ext-request") return undefined;
    if (message.type === "U") return this.#signUp(message, from);
    if (message.type === "P") return this.#buddies.presenceQuery(message);
    // From other domains' nodes (verified by the guards), never from a session.
    if (message.type === "V") return answerVouchQuery(this.#identity, message);
    if (message.type === "J") return this.#federation?.relay.answer(message);
    if (message.type === "M" || message.type === "F" || message.type === "W") {
      return await this.#offline(message, from, size);
    }
    // Every other request belongs to a session: its seal says whose it is, once.
    const sealer = this.#unseal(message, size, from);
    const owner = this.#caller(sealer, from);
    const body = sealer.kind === "session" ? sealer.body : message;
    switch (message.type) {
      case "K":
        return this.#heartbeat(sealer, from, size);
      case "B": {
        if (!owner) return BuddyChangeExt.encodeReply({ kind: "refused", error: "auth" });
        return this.#buddies.change(owner, body);
      }
      case "S": {
        if (!owner) return BuddyStatusExt.encodeReply({ kind: "refused", error: "auth" });
        return this.#buddies.status(owner, body);
      }
      case "O":
        if (!this.#onlineList) return OnlineExt.encodeReply({ kind: "refused", error: "off" });
        if (!owner) return OnlineExt.encodeReply({ kind: "refused", error: "auth" });
        return onlinePage(this.#directory.onlineIndex, body.params);
      case "I": {
        if (!owner) return IdentityExt.encodeReply({ kind: "refused", error: "auth" });
        const across = this.#federation?.keys.answer(
          `${owner}@${this.#domain}`,
          body,
          this.#isLocal,
        );
        return across ? await across : answerIdentity(this.#identity, owner, body);
      }
      case "Y":
        return undefined; // handled by relayRequest, above
      default: // every letter of EXTENSION_LETTERS has its case
        return message.type satisfies never;
    }
  }

  /**
   * Offline messages, the one narrow call: a deposit is sealed by its
   * sender's session (`f=`) when the sender is of this domain, a fetch by
   * the recipient's; a key question (`PW`) by nobody.
   */
  async #offline(message: ExtensionRequest, from: Endpoint, size: number) {
    if (!this.#mailbox) return mailboxOff(message);
    const as = message.type === "M" ? depositSender(message) : message.address;
    const sealer: Sealer<ExtensionRequest> = message.type === "W" || as === undefined
      ? { kind: "none" }
      : this.#unseal(message, size, from, as);
    const owner = this.#caller(sealer, from);
    const body = sealer.kind === "session" ? sealer.body : message;
    const caller = (address: string) =>
      owner !== undefined && splitAddress(address)[0] === owner ? owner : undefined;
    return await this.#mailbox.handle(body, from, caller);
  }

  /** What the identity keys need (`identity_keys.ts`). */
  get #identity() {
    return {
      store: this.#store,
      isProtected: (name: string) => this.#protected.has(name),
      isLocal: this.#isLocal,
    };
  }

  /**
   * Judge the seal of a session's request (`q=`, `m=`), and count the
   * counter as used when it is good: a copy of the same datagram, from
   * anywhere, then fails. Checked against the user's current session, then
   * against the sessions other agents took over.
   */
  #unseal<M extends SealedRequest>(
    message: M,
    size: number,
    from: Endpoint,
    address = message.address,
  ): Sealer<M> {
    const [name, domain] = splitAddress(address);
    if (!this.#isLocal(domain)) return { kind: "none" };
    const sealed = unseal(message, size);
    const registration = this.#directory.get(name);
    const keys = this.#sessionKeys(name, registration, from);
    if (sealed && registration?.session && keys?.session === registration.session.token) {
      const counters = checkSeal(keys, sealed);
      if (counters) {
        this.#keys.set(name, { ...keys, counters });
        return { kind: "session", name, registration, body: sealed.body };
      }
    }
    const now = this.#now();
    for (const old of sealed ? this.#replaced.get(name) ?? [] : []) {
      const counters = old.until > now ? checkSeal(old.keys, sealed!) : undefined;
      if (counters) {
        old.keys = { ...old.keys, counters };
        return { kind: "replaced", by: old.by };
      }
    }
    if (!registration?.session) return { kind: "none" };
    this.refusedSeals++;
    return { kind: "refused", sealed: sealed !== undefined };
  }

  /**
   * `name`'s session keys. A session opened at another node of a cluster
   * (its key came with the shared registration) is taken up here with an
   * empty counter window, but only for requests from the address the session
   * is registered at: a copy replayed from elsewhere cannot move it through a
   * node that has not seen its counters.
   */
  #sessionKeys(
    name: string,
    registration: Registration | null | undefined,
    from: Endpoint,
  ): SessionKeys | undefined {
    const keys = this.#keys.get(name);
    const session = registration?.session;
    if (!session?.sealKey || keys?.session === session.token) return keys;
    const at = registration!.endpoint;
    if (at.ip !== from.ip || at.port !== from.port) return keys;
    const adopted: SessionKeys = {
      session: session.token,
      key: session.sealKey,
      agentKey: "",
      nodeKey: "",
      counters: NO_COUNTER,
    };
    this.#keys.set(name, adopted);
    return adopted;
  }

  async #register(message: RegisterRequest, from: Endpoint, size: number) {
    const address = message.address;
    const [name, domain] = splitAddress(address);
    // Parameters that do not decode (repeated, malformed) are read as none: a bare `PR…;v=2`.
    const decoded = RegisterExt.decodeRequest(message);
    const key = decoded.ok ? undefined : registerSessionKey(message);
    const request: ExtRegisterRequest = decoded.ok
      ? decoded.value
      : { address, replace: false, ...(key !== undefined && { sessionKey: key }) };
    const no = (error: RegisterError, at?: Endpoint): RegisterReply =>
      RegisterExt.encodeReply(at ? { kind: "refused", error, at } : { kind: "refused", error });
    if (!this.#isLocal(domain) || !this.#directory.has(name)) return no("user");
    const credentials = this.#protected.has(name) ? this.#store.get(name)?.credentials : undefined;
    // The agent's session key: in its first PR, or (the proof) the one its challenge was for.
    let agentKey = request.proof ? undefined : request.sessionKey;
    if (!request.proof && agentKey === undefined) return no("invalid");
    if (credentials) {
      const nonce = request.proof?.nonce;
      const proof = request.proof && fromBase64Url(request.proof.proof);
      // Challenges are kept per address and source: a stranger asking for challenges cannot
      // void the one an agent is answering, and a copy of a request voids none.
      const source = `${address} ${from.ip}:${from.port}`;
      const asked = this.#challenges.get(source);
      const pending = asked?.pending ?? [];
      const now = this.#now();
      const index = pending.findIndex((c) => c.nonce === nonce && c.until > now);
      let proven = false;
      if (nonce !== undefined && proof && index >= 0) {
        agentKey = pending[index]!.agentKey;
        pending.splice(index, 1); // single use: a replayed proof finds no challenge
        proven = await verifyProof(
          credentials,
          authMessage("PR", address, nonce, agentKey),
          proof,
        );
        if (!proven) this.failedProofs++;
      }
      if (!proven) {
        // A proof without its challenge (spent, stale): a new one, for the key this source
        // last sent in a first PR; with none known, the agent must start again.
        if (agentKey === undefined) agentKey = request.sessionKey ?? asked?.agentKey;
        if (agentKey === undefined) return no("invalid");
        const fresh = newNonce();
        const challenge = RegisterExt.encodeReply({
          kind: "challenge",
          nonce: fresh,
          salt: toBase64Url(credentials.salt),
          iterations: credentials.iterations,
        });
        // Never answer a short request with a longer challenge (amplification): the agent pads.
        if (size < formatPlumi(challenge).length) return no("pad");
        this.#remember(source, fresh, agentKey);
        return challenge;
      }
    }
    if (agentKey === undefined) return no("invalid");
    // A copy of the request that registered this agent (a duplicate, or a retransmission whose
    // answer was lost) keeps its session: a second token would silently end the first one.
    const current = this.#directory.get(name);
    const kept = this.#keys.get(name);
    const again = current?.session !== undefined && current.endpoint.ip === from.ip &&
      current.endpoint.port === from.port && kept?.session === current.session.token &&
      kept.agentKey === agentKey;
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
    // A copy keeps the session and its keys (the same answer); anything else opens a new one.
    let keys: SessionKeys;
    if (again) keys = kept!;
    else {
      const pair = newSessionKeyPair();
      const key = deriveSessionKey({
        secretKey: pair.secretKey,
        peerKey: agentKey,
        address,
        agentKey,
        nodeKey: pair.publicKey,
        ...(credentials && { bind: credentials.storedKey }),
      });
      if (!key) return no("invalid");
      keys = {
        session: newNonce(),
        key: toBase64Url(new Uint8Array(key)),
        agentKey,
        nodeKey: pair.publicKey,
        counters: NO_COUNTER,
      };
    }
    const reply: Extract<ExtRegisterReply, { kind: "granted" }> = {
      kind: "granted",
      nodeKey: keys.nodeKey,
      mac: "",
      heartbeatSeconds: Math.round(this.#heartbeatMs / 1000),
      signupOpen: this.#openSignup,
      onlineList: this.#onlineList,
      // Identity keys (`PI`) are kept and vouched for.
      identityKeys: true,
    };
    const granted = sealGrant(reply, fromBase64Url(keys.key)!);
    // The answer may not be longer than the request (amplification rule): ask for padding
    // before changing anything, rather than registering with an answer that cannot be sent.
    if (size < formatPlumi(granted).length) return no("pad");
    if (again) return granted;
    const old = current?.session && this.#keys.get(name);
    if (elsewhere?.session && old && old.session === elsewhere.session.token) {
      this.#rememberReplaced(name, old, from);
    }
    this.#keys.set(name, keys);
    this.#directory.register(name, from, this.#now(), {
      token: keys.session,
      heartbeatMs: this.#heartbeatMs,
      busy: false,
      sealKey: keys.key,
    });
    return granted;
  }

  /** Is an extended agent's session alive: has it sent a heartbeat within the allowed misses? */
  #live(registration: Registration): boolean {
    const limit = (registration.session?.heartbeatMs ?? 0) * this.#missed;
    return this.#now() - registration.lastSeen <= limit;
  }

  /** Remember that `name`'s session of `keys` was taken over by an agent at `by`. */
  #rememberReplaced(name: string, keys: SessionKeys, by: Endpoint): void {
    const now = this.#now();
    for (const [old, entries] of this.#replaced) {
      if (entries.some((e) => e.until > now) && this.#replaced.size < MAX_REPLACED) break;
      this.#replaced.delete(old); // oldest first: expired ones, or to make room
    }
    const until = now + Math.max(REPLACED_MS, this.#heartbeatMs * 3);
    const entries = (this.#replaced.get(name) ?? []).filter((e) => e.until > now);
    entries.push({ by, until, keys });
    if (entries.length > REPLACED_PER_USER) entries.shift();
    this.#replaced.delete(name);
    this.#replaced.set(name, entries);
  }

  /** Keep `nonce` as a challenge sent to `source` (address and endpoint), for `agentKey`. */
  #remember(source: string, nonce: string, agentKey: string): void {
    const pending = this.#challenges.get(source)?.pending ?? [];
    this.#challenges.delete(source);
    if (this.#challenges.size >= MAX_CHALLENGES) {
      this.#challenges.delete(this.#challenges.keys().next().value!);
    }
    pending.push({ nonce, until: this.#now() + CHALLENGE_MS, agentKey });
    if (pending.length > NONCES_PER_SOURCE) pending.shift();
    this.#challenges.set(source, { pending, agentKey });
  }

  #deregister(message: DeregisterRequest, from: Endpoint, size: number): PlumiMessage {
    const { address } = message;
    const [name, domain] = splitAddress(address);
    const done = (error?: DeregisterError): PlumiMessage =>
      DeregisterExt.encodeReply(error ? { kind: "refused", error } : { kind: "done" });
    if (!this.#isLocal(domain) || !this.#directory.has(name)) return done("user");
    const sealer = this.#unseal(message, size, from);
    // The agent of a replaced session leaving must not take the newcomer offline.
    if (sealer.kind === "replaced") return done("replaced");
    // Already offline: nothing to undo and nothing to protect, so a retransmitted or duplicated PD
    // gets the answer its first copy got.
    if (this.#directory.get(name) === null) return done();
    // Only the address holding the registration may end it; for a user with a password, only
    // with the session's token too.
    const current = this.#directory.get(name)!;
    const holder = current.endpoint.ip === from.ip && current.endpoint.port === from.port;
    // A seal that failed (a copy, changed) is refused for everyone; without a seal, only a
    // user without a password may leave (as with an original PD).
    const proven = this.#caller(sealer, from) !== undefined;
    const failed = sealer.kind === "refused" && sealer.sealed;
    if (!holder || failed || (!proven && this.#protected.has(name))) return done("auth");
    this.#directory.deregister(name);
    this.#keys.delete(name);
    return done();
  }

  #heartbeat(
    sealer: Sealer<ExtensionRequest>,
    from: Endpoint,
    size: number,
  ): ExtensionReply {
    switch (sealer.kind) {
      case "none":
        return HeartbeatExt.encodeReply({ kind: "unknown" });
      case "refused":
        return HeartbeatExt.encodeReply({ kind: "refused" });
      case "replaced": {
        // Another agent took the session over: its agent is told so, and where, and stops.
        const told = HeartbeatExt.encodeReply({ kind: "replaced", at: sealer.by });
        return size < formatPlumi(told).length
          ? HeartbeatExt.encodeReply({ kind: "replaced" })
          : told;
      }
      case "session": {
        const { name, body: request } = sealer;
        // A body that does not decode (`st=` repeated or unknown) is read as none: not busy.
        const body = HeartbeatExt.decodeRequest(request);
        this.#directory.heartbeat(name, from, this.#now(), body.ok && body.value.busy);
        return HeartbeatExt.encodeReply({ kind: "alive", mark: this.#buddies.stamp(name) });
      }
    }
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

  /** The user whose session sealed a request, if it also came from where that session is. */
  #caller<M extends SealedRequest>(sealer: Sealer<M>, from: Endpoint): string | undefined {
    if (sealer.kind !== "session") return undefined;
    const { ip, port } = sealer.registration.endpoint;
    return ip === from.ip && port === from.port ? sealer.name : undefined;
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
