/**
 * The agent's keys: its identity (made at the first start, kept in
 * `<address>.key`, mode 0600) and the keys its peers proved (`<address>.peers`,
 * like SSH's `known_hosts`). It decides what a proved key means: a first
 * contact is pinned, a pinned key is accepted, a changed key is refused until
 * the user says `/trust`. Files go through {@linkcode KeyFiles}, so tests and
 * the unit tests need no disk.
 *
 * @module
 */

import { writeFileAtomic } from "../../atomic_file.ts";
import { whoisKey } from "../terminal/texts.ts";
import {
  decodeIdentityFile,
  encodeIdentityFile,
  fingerprint,
  type KnownPeer,
  KnownPeers,
  newIdentity,
  type RawKeyPair,
  safetyNumber,
  sameKey,
} from "../../crypto/mod.ts";

/** Reads and writes the key files. */
export interface KeyFiles {
  /** The file's text, or `undefined` when it does not exist. */
  read(path: string): Promise<string | undefined>;
  /** Replace the file (owner-only, 0600). */
  write(path: string, text: string): Promise<void>;
}

/** Key files on disk: atomic writes, mode 0600. Needs read and write permission for them. */
export const diskKeyFiles: KeyFiles = {
  async read(path) {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  },
  write: (path, text) => writeFileAtomic(path, text, { mode: 0o600 }),
};

/** Key files in memory (tests, and agents run without a folder). */
export function memoryKeyFiles(files = new Map<string, string>()): KeyFiles {
  return {
    read: (path) => Promise.resolve(files.get(path)),
    write: (path, text) => {
      files.set(path, text);
      return Promise.resolve();
    },
  };
}

/** What a key proved in a handshake means. */
export type KeyVerdict =
  | { readonly kind: "first-contact" }
  | { readonly kind: "known"; readonly verified: boolean }
  | { readonly kind: "changed"; readonly pinned: Uint8Array };

/** Where the keys live. */
export interface KeyringOptions {
  /** Our @MI address. */
  readonly address: string;
  /** The identity file. Default: `<address>.key`. */
  readonly keyFile?: string;
  /** The known-peers file. Default: `<address>.peers`. */
  readonly peersFile?: string;
  /** File access. Default: {@linkcode diskKeyFiles}. */
  readonly files?: KeyFiles;
}

/** The identity and the pinned keys of one agent. */
export class Keyring {
  /** Our key pair. */
  readonly identity: RawKeyPair;
  /** Our @MI address. */
  readonly address: string;
  /** Whether the identity was made at this start (first start). */
  readonly created: boolean;
  readonly #peers: KnownPeers;
  readonly #peersFile: string;
  readonly #files: KeyFiles;
  /** Changed keys refused, by address, waiting for `/trust`. */
  readonly #refused = new Map<string, Uint8Array>();

  private constructor(
    identity: RawKeyPair,
    created: boolean,
    peers: KnownPeers,
    options: KeyringOptions,
  ) {
    this.identity = identity;
    this.created = created;
    this.address = options.address;
    this.#peers = peers;
    this.#peersFile = options.peersFile ?? `${options.address}.peers`;
    this.#files = options.files ?? diskKeyFiles;
  }

  /** Load the keys, making the identity on the first start. Throws why a file is unusable. */
  static async open(options: KeyringOptions): Promise<Keyring> {
    const files = options.files ?? diskKeyFiles;
    const keyFile = options.keyFile ?? `${options.address}.key`;
    const text = await files.read(keyFile);
    let identity: RawKeyPair;
    let created = false;
    if (text === undefined) {
      identity = newIdentity();
      created = true;
      await files.write(keyFile, encodeIdentityFile(options.address, identity));
    } else {
      const decoded = decodeIdentityFile(text);
      if (decoded instanceof SyntaxError) {
        throw new SyntaxError(`Cannot use the identity file ${keyFile}: ${decoded.message}`);
      }
      identity = decoded;
    }
    const peersText = await files.read(options.peersFile ?? `${options.address}.peers`);
    const peers = peersText === undefined ? new KnownPeers() : KnownPeers.parse(peersText).peers;
    return new Keyring(identity, created, peers, options);
  }

  /** Our key's fingerprint. */
  get fingerprint(): string {
    return fingerprint(this.identity.publicKey);
  }

  /**
   * What the key `address` just proved means; a first contact is pinned
   * (saved), a changed key remembered for `/trust`.
   */
  async judge(address: string, key: Uint8Array): Promise<KeyVerdict> {
    const check = this.#peers.check(address, key);
    if (check.kind === "match") return { kind: "known", verified: check.trust === "verified" };
    if (check.kind === "changed") {
      this.#refused.set(address.toLowerCase(), key);
      return { kind: "changed", pinned: check.pinned };
    }
    this.#peers.pin(address, key);
    await this.#save();
    return { kind: "first-contact" };
  }

  /** The key pinned for `address` (with its trust), if any. */
  pinned(address: string): KnownPeer | undefined {
    return this.#peers.get(address);
  }

  /** Whether `address` has no pinned key yet (the next contact is a first contact). */
  isNew(address: string): boolean {
    return this.#peers.get(address) === undefined;
  }

  /** What `/whois` says of `address`'s key: pinned and verified, pinned, or never met. */
  describe(address: string): { state: string; fingerprint?: string } {
    const peer = this.#peers.get(address);
    if (!peer) return { state: whoisKey.unknown() };
    const state = peer.trust === "verified" ? whoisKey.verified() : whoisKey.pinned(address);
    return { state, fingerprint: fingerprint(peer.key) };
  }

  /** `/trust address`: pin the changed key it last proved; `false` if none was refused. */
  async trust(address: string): Promise<boolean> {
    const key = this.#refused.get(address.toLowerCase());
    if (key === undefined) return false;
    this.#refused.delete(address.toLowerCase());
    this.#peers.pin(address, key);
    await this.#save();
    return true;
  }

  /** Whether `address` has a changed key waiting for `/trust`. */
  hasRefused(address: string): boolean {
    return this.#refused.has(address.toLowerCase());
  }

  /** The safety number with the pinned key of `address`, or `undefined` if none is pinned. */
  safetyNumber(address: string): string | undefined {
    const peer = this.#peers.get(address);
    return peer && safetyNumber(this.identity.publicKey, peer.key);
  }

  /** `/verify address`: mark its pinned key verified; `false` if none is pinned. */
  async verify(address: string): Promise<boolean> {
    if (!this.#peers.verify(address)) return false;
    await this.#save();
    return true;
  }

  /** Whether `key` is the one pinned for `address` and verified. */
  isVerified(address: string, key: Uint8Array): boolean {
    const peer = this.#peers.get(address);
    return peer !== undefined && peer.trust === "verified" && sameKey(peer.key, key);
  }

  #save(): Promise<void> {
    return this.#files.write(this.#peersFile, this.#peers.serialize());
  }
}
