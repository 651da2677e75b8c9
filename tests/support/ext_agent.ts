/**
 * A raw-socket "extended agent" for the node's extension tests: it speaks
 * the PLUMI extensions (`v=2`, docs/PROTOCOL.md) byte by byte over a
 * {@linkcode UdpPeer} and computes password proofs with `lib/auth.ts` and
 * the session's seal (`q=`, `m=`) with `lib/plumi/extensions/session.ts`,
 * so a test controls and sees every datagram.
 *
 * Every method sends one request and takes the next datagram as its answer;
 * it fails when the answer does not come from the node, so a stray datagram
 * is never mistaken for an answer.
 *
 * @module
 */

import { deepStrictEqual } from "#assert";
import {
  authMessage,
  type Bytes,
  createCredentials,
  deriveClientKey,
  fromBase64Url,
  makeProof,
  storedKeyOf,
  toBase64Url,
} from "../../lib/auth.ts";
import type { Endpoint } from "../../lib/plumi/address.ts";
import {
  deriveSessionKey,
  macMatches,
  macOf,
  newSessionKeyPair,
  type SessionKeyPair,
} from "../../lib/plumi/extensions/mod.ts";
import { type Received, UdpPeer } from "./udp_peer.ts";

/** An answer split into its head (`RR0`, `RS0`, …) and its `;` parameters. */
export interface Reply {
  /** The whole datagram. */
  readonly text: string;
  /** The part before the first `;`. */
  readonly head: string;
  /** Every parameter, in order. */
  readonly params: readonly string[];
}

/** Split a datagram into head and parameters. */
export function parseReply(text: string): Reply {
  const [head = "", ...params] = text.split(";");
  return { text, head, params };
}

/** The value of the first `key=` parameter, or `undefined`. */
export function value(reply: Reply, key: string): string | undefined {
  return values(reply, key)[0];
}

/** Every value of a repeated `key=` parameter, in order. */
export function values(reply: Reply, key: string): string[] {
  return reply.params.filter((p) => p.startsWith(`${key}=`)).map((p) => p.slice(key.length + 1));
}

/** `packet` padded with `;x=---…` to `size` bytes (the first PR of an extended agent). */
export function padded(packet: string, size = 100): string {
  const head = `${packet};x=`;
  return head + "-".repeat(Math.max(0, size - head.length));
}

/** A page of buddy states (`RS0`) or online users (`RO0`). */
export interface Page<T> {
  readonly page: number;
  readonly pages: number;
  readonly entries: T[];
  readonly reply: Reply;
}

/** One buddy in an `RS0` answer. */
export interface BuddyStatus {
  readonly state: string;
  /** `ip,port`, or `","` when not given. */
  readonly at: string;
  readonly buddy: string;
}

/** The credentials of a challenge (`RR1;v=2;e=auth;n=…;s=…;i=…`). */
export interface Challenge {
  readonly nonce: string;
  readonly salt: Bytes;
  readonly iterations: number;
  readonly reply: Reply;
}

/** A bare UDP socket that plays an extended agent of `address`. */
export class ExtAgent implements AsyncDisposable {
  readonly address: string;
  readonly peer: UdpPeer;
  /** The node this agent talks to. */
  readonly node: Endpoint;
  /** The session key of the last successful registration (never sent). */
  key: Uint8Array | undefined;
  /** The counter of the last sealed request. */
  counter = 0;
  /** The parameters of the last `RR0;v=2;…`. */
  session: Reply | undefined;
  /** This log-in's ephemeral key pair (`k=` of the first PR). */
  pair: SessionKeyPair = newSessionKeyPair();
  /** The `storedKey` of the last proof, which binds a password account's session key. */
  #bind: Uint8Array | undefined;

  private constructor(address: string, node: Endpoint, peer: UdpPeer) {
    this.address = address;
    this.node = node;
    this.peer = peer;
  }

  /** Bind a socket on `ip` (default 127.0.0.1) for `address`'s agent of `node`. */
  static open(address: string, node: Endpoint, ip = "127.0.0.1"): ExtAgent {
    return new ExtAgent(address, node, UdpPeer.open(address, ip));
  }

  /** Where the agent's socket is. */
  get local(): Endpoint {
    return this.peer.local;
  }

  /** `ip:port` of the agent's socket. */
  get at(): string {
    return `${this.local.ip}:${this.local.port}`;
  }

  /** `ip,port` of the agent's socket, as a buddy entry of `RS0` shows it. */
  get csv(): string {
    return `${this.local.ip},${this.local.port}`;
  }

  /** Send `packet` and return the next datagram, which must come from the node. */
  async request(packet: string, timeoutMs = 3_000): Promise<Reply> {
    return this.#fromNode(await this.peer.request(packet, this.node, timeoutMs));
  }

  /** The next datagram, which must come from the node. */
  async receive(timeoutMs = 3_000): Promise<Reply> {
    return this.#fromNode(await this.peer.receive(timeoutMs));
  }

  #fromNode(received: Received): Reply {
    deepStrictEqual(received.from, this.node, `${this.address}: "${received.text}" not from node`);
    return parseReply(received.text);
  }

  /**
   * The first PR of an extended agent, padded to 100 bytes. Returns the
   * answer: `RR0;v=2;…` (no password; the session is kept) or a challenge.
   */
  async hello(options: { replace?: boolean; newKey?: boolean } = {}): Promise<Reply> {
    if (options.newKey ?? true) this.pair = newSessionKeyPair();
    this.#bind = undefined;
    const replace = options.replace ? ";replace" : "";
    const reply = await this.request(
      padded(`PR${this.address};v=2;k=${this.pair.publicKey}${replace}`),
    );
    if (reply.head === "RR0") this.#keep(reply);
    return reply;
  }

  /** The first PR of {@linkcode ExtAgent.hello}, for this log-in's key, without sending it. */
  helloPacket(replace = false): string {
    return padded(`PR${this.address};v=2;k=${this.pair.publicKey}${replace ? ";replace" : ""}`);
  }

  /** The PR that answers a challenge with a proof for `password`; also returns it, for replays. */
  async prove(
    password: string,
    challenge: Challenge,
    replace = false,
  ): Promise<{ packet: string; reply: Reply }> {
    const packet = await this.proofPacket(password, challenge, replace);
    const reply = await this.request(packet);
    if (reply.head === "RR0") this.#keep(reply);
    return { packet, reply };
  }

  /** The PR carrying a proof of `password` for `challenge`, without sending it. */
  async proofPacket(password: string, challenge: Challenge, replace = false): Promise<string> {
    const clientKey = await deriveClientKey(password, challenge.salt, challenge.iterations);
    this.#bind = await storedKeyOf(clientKey);
    const proof = await makeProof(
      clientKey,
      authMessage("PR", this.address, challenge.nonce, this.pair.publicKey),
    );
    const text = `PR${this.address};v=2;n=${challenge.nonce};p=${toBase64Url(proof)}`;
    return padded(replace ? `${text};replace` : text);
  }

  /** Log in: padded PR, then (for a user with a password) the proof. Returns the final answer. */
  async register(password?: string, options: { replace?: boolean } = {}): Promise<Reply> {
    const first = await this.hello(options);
    if (first.head === "RR0" || password === undefined) return first;
    return (await this.prove(password, challengeOf(first), options.replace)).reply;
  }

  /** Take the session of an `RR0`: derive its key and check that the answer's `m=` proves it. */
  #keep(reply: Reply): void {
    const nodeKey = value(reply, "k") ?? "";
    const key = deriveSessionKey({
      secretKey: this.pair.secretKey,
      peerKey: nodeKey,
      address: this.address,
      agentKey: this.pair.publicKey,
      nodeKey,
      ...(this.#bind && { bind: this.#bind }),
    });
    const signed = reply.text.slice(0, reply.text.lastIndexOf(";m="));
    if (!key || !macMatches(key, signed, value(reply, "m") ?? "")) {
      throw new Error(`${this.address}: ${reply.text} does not prove the session key`);
    }
    this.key = key;
    this.counter = 0;
    this.session = reply;
  }

  /**
   * `packet` sealed with the session key: `;q=<next counter>;m=<mac>`
   * (`key` and `counter` to seal as another session would, or to reuse one).
   */
  seal(packet: string, options: { key?: Uint8Array; counter?: number } = {}): string {
    const key = options.key ?? this.key;
    if (!key) throw new Error(`${this.address}: no session to seal ${packet} with`);
    const counted = `${packet};q=${options.counter ?? ++this.counter}`;
    return `${counted};m=${macOf(key, counted)}`;
  }

  /** `PK…[;st=busy]`, sealed: the answer (`RK0;c=…`, `RK1`, `RK1;e=auth`…). */
  heartbeat(options: { busy?: boolean; key?: Uint8Array; counter?: number } = {}): Promise<Reply> {
    const busy = options.busy ? ";st=busy" : "";
    return this.request(this.seal(`PK${this.address}${busy}`, options));
  }

  /** The heartbeat mark (`c=`) of an `RK0`; fails on any other answer. */
  async mark(options: { busy?: boolean } = {}): Promise<string> {
    const reply = await this.heartbeat(options);
    deepStrictEqual(reply.head, "RK0", `${this.address}: heartbeat answered ${reply.text}`);
    return value(reply, "c")!;
  }

  /** `PD…;v=2`, sealed (unless `sealed` is false, or there is no session): the answer. */
  deregister(sealed = true): Promise<Reply> {
    const packet = `PD${this.address};v=2`;
    return this.request(sealed && this.key ? this.seal(packet) : packet);
  }

  /** `PU…`: sign up with `password` (what the node stores, never the password). */
  async signUp(password: string, iterations = 100_000): Promise<Reply> {
    const c = await createCredentials(password, iterations);
    return await this.request(
      `PU${this.address};s=${toBase64Url(c.salt)};i=${iterations};k=${toBase64Url(c.storedKey)}`,
    );
  }

  /** `PB…;op=<op>;b=<buddy>`, sealed: the answer. */
  buddy(op: string, buddy: string): Promise<Reply> {
    return this.request(this.seal(`PB${this.address};op=${op};b=${buddy}`));
  }

  /** `PS…[;p=…]`, sealed: one page of buddy states; fails unless the answer is `RS0`. */
  async status(page?: number): Promise<Page<BuddyStatus>> {
    const reply = await this.request(
      this.seal(`PS${this.address}${page === undefined ? "" : `;p=${page}`}`),
    );
    return pageOf(reply, "RS0", "b", (entry) => {
      const [state = "", ip = "", port = "", ...rest] = entry.split(",");
      return { state, at: `${ip},${port}`, buddy: rest.join(",") };
    });
  }

  /** `PO…[;p=…]`, sealed: one page of online users; fails unless the answer is `RO0`. */
  async online(page?: number): Promise<Page<string>> {
    const reply = await this.request(
      this.seal(`PO${this.address}${page === undefined ? "" : `;p=${page}`}`),
    );
    return pageOf(reply, "RO0", "u", (name) => name);
  }

  /** Close the socket. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.peer[Symbol.asyncDispose]();
  }
}

/** The challenge of an `RR1;v=2;e=auth;…` answer; fails on anything else. */
export function challengeOf(reply: Reply): Challenge {
  deepStrictEqual(
    [reply.head, reply.params.slice(0, 2), reply.params.length],
    ["RR1", ["v=2", "e=auth"], 5],
    `not a challenge: ${reply.text}`,
  );
  const salt = fromBase64Url(value(reply, "s") ?? "");
  if (!salt) throw new Error(`bad salt in ${reply.text}`);
  return {
    nonce: value(reply, "n")!,
    salt,
    iterations: Number(value(reply, "i")),
    reply,
  };
}

function pageOf<T>(reply: Reply, head: string, key: string, parse: (entry: string) => T): Page<T> {
  deepStrictEqual(reply.head, head, `expected ${head}, got ${reply.text}`);
  const [page, pages] = (value(reply, "p") ?? "").split("/").map(Number);
  deepStrictEqual(reply.params[0]?.startsWith("p="), true, `no page in ${reply.text}`);
  deepStrictEqual(
    reply.params.slice(1).every((p) => p.startsWith(`${key}=`)),
    true,
    `unexpected parameter in ${reply.text}`,
  );
  return { page: page!, pages: pages!, entries: values(reply, key).map(parse), reply };
}
