/**
 * For the node's unit tests: an extended agent's side of a session, in
 * text. It sends its ephemeral key in the first `PR`, proves a password
 * bound to that key, checks the `RR0`'s proof of the session key, and
 * seals requests (`;q=…;m=…`), as docs/PROTOCOL.md says byte by byte.
 *
 * @module
 */

import {
  authMessage,
  type Bytes,
  deriveClientKey,
  fromBase64Url,
  makeProof,
  storedKeyOf,
  toBase64Url,
} from "../auth.ts";
import {
  deriveSessionKey,
  macMatches,
  macOf,
  newSessionKeyPair,
  type SessionKeyPair,
} from "../plumi/extensions/mod.ts";

const param = (text: string, key: string) =>
  text.split(";").find((p) => p.startsWith(`${key}=`))?.slice(key.length + 1);

/** One agent's log-ins: its key pair, and the session of its last `RR0`. */
export class TestAgent {
  readonly address: string;
  pair: SessionKeyPair = newSessionKeyPair();
  key: Uint8Array | undefined;
  counter = 0;
  #bind: Uint8Array | undefined;

  constructor(address: string) {
    this.address = address;
  }

  /** The first PR (`rest`: more parameters, as `;replace`), with this log-in's key. */
  hello(rest = ""): string {
    return `PR${this.address};v=2;k=${this.pair.publicKey}${rest}`;
  }

  /** The PR with a proof of `password` for the challenge in `answer`. */
  async proof(password: string, answer: string, rest = ""): Promise<string> {
    const salt = fromBase64Url(param(answer, "s")!)!;
    const clientKey = await deriveClientKey(password, salt, Number(param(answer, "i")));
    return await this.proofWith(clientKey, param(answer, "n")!, rest);
  }

  /** The PR with a proof by `clientKey` (the password's, for the challenge's salt) for `nonce`. */
  async proofWith(clientKey: Bytes, nonce: string, rest = ""): Promise<string> {
    this.#bind = await storedKeyOf(clientKey);
    const proof = await makeProof(
      clientKey,
      authMessage("PR", this.address, nonce, this.pair.publicKey),
    );
    return `PR${this.address};v=2;n=${nonce};p=${toBase64Url(proof)}${rest}`;
  }

  /** Take the session of `answer` (an `RR0`): throws unless its `m=` proves the key. Returns `this`. */
  keep(answer: string): this {
    const nodeKey = param(answer, "k") ?? "";
    const key = deriveSessionKey({
      secretKey: this.pair.secretKey,
      peerKey: nodeKey,
      address: this.address,
      agentKey: this.pair.publicKey,
      nodeKey,
      ...(this.#bind && { bind: this.#bind }),
    });
    const signed = answer.slice(0, answer.lastIndexOf(";m="));
    if (!answer.startsWith("RR0;v=2;") || !key || !macMatches(key, signed, param(answer, "m")!)) {
      throw new Error(`${this.address}: not a session: ${answer}`);
    }
    this.key = key;
    this.counter = 0;
    return this;
  }

  /** `packet` sealed with the session's key and the next counter (or `counter`). */
  seal(packet: string, counter = ++this.counter): string {
    if (!this.key) throw new Error(`${this.address} has no session`);
    const counted = `${packet};q=${counter}`;
    return `${counted};m=${macOf(this.key, counted)}`;
  }
}

/**
 * A node's `RR0` (no password) to the first PR `pr` of `address`, sealed
 * as an extended node seals it: for scripted nodes in the agent's tests.
 */
export function grantFor(pr: string, address: string, params = "hb=1;su=0;ol=1"): string {
  const agentKey = param(pr, "k") ?? "";
  const node = newSessionKeyPair();
  const key = deriveSessionKey({
    secretKey: node.secretKey,
    peerKey: agentKey,
    address,
    agentKey,
    nodeKey: node.publicKey,
  });
  if (!key) throw new Error(`no session key in ${pr}`);
  const text = `RR0;v=2;k=${node.publicKey};${params}`;
  return `${text};m=${macOf(key, text)}`;
}
