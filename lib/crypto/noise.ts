/**
 * The Noise Protocol Framework state machine (revision 34): `CipherState`,
 * `SymmetricState` and `HandshakeState`, for the suite `25519_ChaChaPoly_SHA256`
 * and the patterns LUMI uses (`XX` for conversations, `NN` for the test vectors).
 *
 * Pure: no I/O. No primitive is ours: ChaCha20-Poly1305, SHA-256 and its
 * HMAC-based HKDF, and X25519 key generation for identities come from the
 * audited noble libraries; the Diffie-Hellman operations themselves run on
 * the platform's WebCrypto X25519 (Deno's native implementation, four times
 * faster than noble's here, which keeps a handshake within a few ms). Only the
 * state machine is ours. Writing and reading handshake messages is therefore
 * asynchronous.
 *
 * @module
 */

import { x25519 } from "#curves/ed25519.js";
import { chacha20poly1305 } from "#ciphers/chacha.js";
import { sha256 } from "#hashes/sha2.js";
import { hkdf } from "#hashes/hkdf.js";

/** Bytes of a hash output (SHA-256). */
export const HASH_LEN = 32;
/** Bytes of an X25519 public key or shared secret. */
export const DH_LEN = 32;
/** Bytes of a Poly1305 tag. */
export const TAG_LEN = 16;
/** Largest Noise message, in bytes (the framework's bound). */
export const MAX_MESSAGE_BYTES = 65535;

/** Raised when a handshake or transport message does not authenticate or is malformed. */
export class NoiseError extends Error {
  /** Build one with a message saying what failed. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NoiseError";
  }
}

/** An X25519 key pair: its raw bytes, or (an ephemeral key) a WebCrypto private key. */
export interface KeyPair {
  /** The raw secret key; absent for ephemeral keys made by WebCrypto. */
  readonly secretKey?: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The private key as WebCrypto uses it (made from `secretKey` when absent). */
  readonly privateKey?: CryptoKey;
}

/** A key pair whose raw secret is known (identities, test vectors). */
export type RawKeyPair = KeyPair & { readonly secretKey: Uint8Array };

/** A fresh random X25519 key pair with its raw bytes (from `crypto.getRandomValues`, through noble). */
export function generateKeyPair(): RawKeyPair {
  return keyPairFromSecret(x25519.utils.randomSecretKey());
}

/** The key pair of a given X25519 secret key. */
export function keyPairFromSecret(secretKey: Uint8Array): RawKeyPair {
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

/** A fresh ephemeral key pair, made by WebCrypto (its secret never leaves it). */
export async function generateEphemeral(): Promise<KeyPair> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { publicKey, privateKey: pair.privateKey };
}

const imported = new WeakMap<KeyPair, Promise<CryptoKey>>();

function base64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function privateKeyOf(pair: KeyPair): Promise<CryptoKey> {
  if (pair.privateKey) return Promise.resolve(pair.privateKey);
  let key = imported.get(pair);
  if (!key) {
    const jwk = {
      kty: "OKP",
      crv: "X25519",
      d: base64Url(pair.secretKey!),
      x: base64Url(pair.publicKey),
    };
    key = crypto.subtle.importKey("jwk", jwk, { name: "X25519" }, false, ["deriveBits"]);
    imported.set(pair, key);
  }
  return key;
}

/**
 * X25519 of `pair`'s secret and `publicKey`, through WebCrypto (the secret
 * imported once per pair); a key that is not one, or a low-order point, is a
 * {@linkcode NoiseError}.
 */
export async function diffieHellman(pair: KeyPair, publicKey: Uint8Array): Promise<Uint8Array> {
  try {
    const peer = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(publicKey),
      { name: "X25519" },
      false,
      [],
    );
    const bits = await crypto.subtle.deriveBits(
      { name: "X25519", public: peer },
      await privateKeyOf(pair),
      256,
    );
    return new Uint8Array(bits);
  } catch (cause) {
    throw new NoiseError("the peer's key is not a valid X25519 key", { cause });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

const EMPTY = new Uint8Array(0);

/** The 12-byte ChaChaPoly nonce of counter `n`: 4 zero bytes, then `n` little-endian. */
export function chachaNonce(n: number): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(n), true);
  return nonce;
}

/** Noise's HKDF with two outputs: RFC 5869 with salt `ck`, empty info, 64 bytes. */
function hkdf2(ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const out = hkdf(sha256, ikm, ck, EMPTY, 2 * HASH_LEN);
  return [out.slice(0, HASH_LEN), out.slice(HASH_LEN)];
}

/** A key and a nonce counter (Noise §5.1). */
export class CipherState {
  #k: Uint8Array | undefined;
  #n = 0;

  /** A cipher state with key `k`, or without a key (`undefined`). */
  constructor(k?: Uint8Array) {
    this.#k = k;
  }

  /** Whether a key is set. */
  hasKey(): boolean {
    return this.#k !== undefined;
  }

  /** The next nonce that will be used. */
  get nonce(): number {
    return this.#n;
  }

  /** Set the nonce counter (Noise's `SetNonce`), for explicit counters on the wire. */
  setNonce(n: number): void {
    this.#n = n;
  }

  /** AEAD-encrypt with the current nonce, then count it; without a key, return `plaintext`. */
  encryptWithAd(ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (this.#k === undefined) return plaintext;
    if (this.#n >= Number.MAX_SAFE_INTEGER) throw new NoiseError("nonce exhausted");
    const out = chacha20poly1305(this.#k, chachaNonce(this.#n), ad).encrypt(plaintext);
    this.#n++;
    return out;
  }

  /** AEAD-decrypt with the current nonce; the nonce counts only when it authenticates. */
  decryptWithAd(ad: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    if (this.#k === undefined) return ciphertext;
    let out: Uint8Array;
    try {
      out = chacha20poly1305(this.#k, chachaNonce(this.#n), ad).decrypt(ciphertext);
    } catch (cause) {
      throw new NoiseError("a message did not authenticate", { cause });
    }
    this.#n++;
    return out;
  }
}

/** The chaining key, the handshake hash and a cipher state (Noise §5.2). */
export class SymmetricState {
  #ck: Uint8Array;
  #h: Uint8Array;
  #cipher = new CipherState();

  /** `InitializeSymmetric(protocolName)`. */
  constructor(protocolName: string) {
    const name = new TextEncoder().encode(protocolName);
    if (name.length <= HASH_LEN) {
      this.#h = new Uint8Array(HASH_LEN);
      this.#h.set(name);
    } else {
      this.#h = sha256(name);
    }
    this.#ck = this.#h;
  }

  /** The handshake hash so far (after the handshake: the channel binding). */
  get handshakeHash(): Uint8Array {
    return this.#h;
  }

  /** Mix a DH output into the chaining key and take a new cipher key. */
  mixKey(ikm: Uint8Array): void {
    const [ck, k] = hkdf2(this.#ck, ikm);
    this.#ck = ck;
    this.#cipher = new CipherState(k);
  }

  /** `h = SHA-256(h || data)`. */
  mixHash(data: Uint8Array): void {
    this.#h = sha256(concat(this.#h, data));
  }

  /** Encrypt with `h` as associated data, then mix the ciphertext into `h`. */
  encryptAndHash(plaintext: Uint8Array): Uint8Array {
    const ciphertext = this.#cipher.encryptWithAd(this.#h, plaintext);
    this.mixHash(ciphertext);
    return ciphertext;
  }

  /** Decrypt with `h` as associated data, then mix the ciphertext into `h`. */
  decryptAndHash(ciphertext: Uint8Array): Uint8Array {
    const plaintext = this.#cipher.decryptWithAd(this.#h, ciphertext);
    this.mixHash(ciphertext);
    return plaintext;
  }

  /** Whether the cipher has a key yet (so `s` travels encrypted). */
  hasKey(): boolean {
    return this.#cipher.hasKey();
  }

  /** The two transport cipher states: initiator-to-responder, responder-to-initiator. */
  split(): [CipherState, CipherState] {
    const [k1, k2] = hkdf2(this.#ck, EMPTY);
    return [new CipherState(k1), new CipherState(k2)];
  }
}

/** One token of a handshake message pattern. */
export type Token = "e" | "s" | "ee" | "es" | "se" | "ss";

/** The handshake patterns this module knows, message by message. */
export const PATTERNS = {
  /** Mutual authentication, both static keys sent encrypted (Noise §7.5). */
  XX: [["e"], ["e", "ee", "s", "es"], ["s", "se"]],
  /** No static keys (used for the test vectors only). */
  NN: [["e"], ["e", "ee"]],
} as const satisfies Record<string, readonly (readonly Token[])[]>;

/** A pattern's name. */
export type PatternName = keyof typeof PATTERNS;

/** The full protocol name of a pattern in our suite, e.g. `Noise_XX_25519_ChaChaPoly_SHA256`. */
export function protocolName(pattern: PatternName): string {
  return `Noise_${pattern}_25519_ChaChaPoly_SHA256`;
}

/** How to start a handshake. */
export interface HandshakeOptions {
  /** Which pattern. */
  readonly pattern: PatternName;
  /** Whether this side sends the first message. */
  readonly initiator: boolean;
  /** Bytes both sides must agree on (mixed into the hash first). Default: empty. */
  readonly prologue?: Uint8Array;
  /** This side's static key pair (required by patterns with `s`). */
  readonly staticKeys?: KeyPair;
  /** The ephemeral key pair to use; default: a fresh one. Only test vectors set it. */
  readonly ephemeralKeys?: KeyPair;
}

/** What a finished handshake gives. */
export interface HandshakeResult {
  /** Cipher state to send with. */
  readonly send: CipherState;
  /** Cipher state to receive with. */
  readonly receive: CipherState;
  /** The final handshake hash: identical on both sides. */
  readonly handshakeHash: Uint8Array;
  /** The peer's static public key (patterns with `s`). */
  readonly remoteStatic: Uint8Array | undefined;
}

/** The handshake state machine (Noise §5.3), one message at a time. */
export class HandshakeState {
  readonly #symmetric: SymmetricState;
  readonly #messages: readonly (readonly Token[])[];
  readonly #initiator: boolean;
  readonly #s: KeyPair | undefined;
  #e: KeyPair | undefined;
  #rs: Uint8Array | undefined;
  #re: Uint8Array | undefined;
  #fixedE: KeyPair | undefined;
  #index = 0;
  #result: HandshakeResult | undefined;

  /** `Initialize(...)`: name, prologue. */
  constructor(options: HandshakeOptions) {
    this.#symmetric = new SymmetricState(protocolName(options.pattern));
    this.#symmetric.mixHash(options.prologue ?? EMPTY);
    this.#messages = PATTERNS[options.pattern];
    this.#initiator = options.initiator;
    this.#s = options.staticKeys;
    this.#fixedE = options.ephemeralKeys;
    const needsStatic = this.#messages.some((m) => m.includes("s"));
    if (needsStatic && this.#s === undefined) {
      throw new TypeError(`the ${options.pattern} pattern needs a static key pair`);
    }
  }

  /** Whether it is this side's turn to write. */
  get myTurn(): boolean {
    return this.#result === undefined && (this.#index % 2 === 0) === this.#initiator;
  }

  /** The outcome, once the last message was written or read. */
  get result(): HandshakeResult | undefined {
    return this.#result;
  }

  /** The peer's static key, once its `s` token was read. */
  get remoteStatic(): Uint8Array | undefined {
    return this.#rs;
  }

  /** Write the next message, carrying `payload` (encrypted once a key exists). */
  async writeMessage(payload: Uint8Array = EMPTY): Promise<Uint8Array> {
    if (!this.myTurn) throw new NoiseError("not this side's turn to write");
    const parts: Uint8Array[] = [];
    for (const token of this.#messages[this.#index]!) {
      if (token === "e") {
        this.#e = this.#fixedE ?? await generateEphemeral();
        parts.push(this.#e.publicKey);
        this.#symmetric.mixHash(this.#e.publicKey);
      } else if (token === "s") {
        parts.push(this.#symmetric.encryptAndHash(this.#s!.publicKey));
      } else {
        await this.#mixDh(token);
      }
    }
    parts.push(this.#symmetric.encryptAndHash(payload));
    this.#advance();
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Read the peer's next message and return its payload; rejects with `NoiseError` if it fails. */
  async readMessage(message: Uint8Array): Promise<Uint8Array> {
    if (this.#result !== undefined || this.myTurn) {
      throw new NoiseError("a handshake message came out of turn");
    }
    if (message.length > MAX_MESSAGE_BYTES) throw new NoiseError("handshake message too long");
    let at = 0;
    const take = (n: number): Uint8Array => {
      if (message.length - at < n) throw new NoiseError("handshake message too short");
      const part = message.subarray(at, at + n);
      at += n;
      return part;
    };
    for (const token of this.#messages[this.#index]!) {
      if (token === "e") {
        this.#re = take(DH_LEN).slice();
        this.#symmetric.mixHash(this.#re);
      } else if (token === "s") {
        const size = this.#symmetric.hasKey() ? DH_LEN + TAG_LEN : DH_LEN;
        this.#rs = this.#symmetric.decryptAndHash(take(size)).slice();
      } else {
        await this.#mixDh(token);
      }
    }
    const rest = message.subarray(at);
    if (this.#symmetric.hasKey() && rest.length < TAG_LEN) {
      throw new NoiseError("handshake message too short");
    }
    const payload = this.#symmetric.decryptAndHash(rest);
    this.#advance();
    return payload;
  }

  async #mixDh(token: "ee" | "es" | "se" | "ss"): Promise<void> {
    const missing = (): never => {
      throw new NoiseError(`the ${token} token came before its keys`);
    };
    const e = (): KeyPair => this.#e ?? missing();
    const s = (): KeyPair => this.#s ?? missing();
    let out: Promise<Uint8Array>;
    if (token === "ee") out = diffieHellman(e(), this.#re ?? missing());
    else if (token === "ss") out = diffieHellman(s(), this.#rs ?? missing());
    else if ((token === "es") === this.#initiator) out = diffieHellman(e(), this.#rs ?? missing());
    else out = diffieHellman(s(), this.#re ?? missing());
    this.#symmetric.mixKey(await out);
  }

  #advance(): void {
    this.#index++;
    if (this.#index < this.#messages.length) return;
    const [c1, c2] = this.#symmetric.split();
    this.#result = {
      send: this.#initiator ? c1 : c2,
      receive: this.#initiator ? c2 : c1,
      handshakeHash: this.#symmetric.handshakeHash,
      remoteStatic: this.#rs,
    };
  }
}
