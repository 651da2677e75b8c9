/**
 * The known-peers file (as SSH's `known_hosts`): for each @MI address the key
 * it proved at first contact, and whether the user verified it (`/verify`).
 * A different key later is a changed key: refused until `/trust`.
 *
 * One line per peer: `<address> <key> <seen|verified>`; `#` starts a comment.
 * Pure: text in, text out.
 *
 * @module
 */

import { keyFromText, keyToText, sameKey } from "./identity.ts";

/** How much the user vouched for a pinned key. */
export type PeerTrust = "seen" | "verified";

/** One pinned peer. */
export interface KnownPeer {
  readonly address: string;
  readonly key: Uint8Array;
  readonly trust: PeerTrust;
}

/** The verdict on a key a peer proved. */
export type PinCheck =
  | { readonly kind: "new" }
  | { readonly kind: "match"; readonly trust: PeerTrust }
  | { readonly kind: "changed"; readonly pinned: Uint8Array };

/** Addresses compare with their domain in lower case and without a trailing dot. */
export function peerKey(address: string): string {
  const at = address.indexOf("@");
  if (at < 0) return address;
  return `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase().replace(/\.$/, "")}`;
}

/** The pinned keys of one agent. */
export class KnownPeers {
  readonly #peers = new Map<string, KnownPeer>();

  /** Parse a file's text; lines that do not parse are skipped and counted. */
  static parse(text: string): { peers: KnownPeers; skipped: number } {
    const peers = new KnownPeers();
    let skipped = 0;
    for (const raw of text.split("\n")) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const [address, keyText, trust, extra] = line.split(/\s+/);
      const key = keyText === undefined ? undefined : keyFromText(keyText);
      if (
        address === undefined || !address.includes("@") || key === undefined ||
        (trust !== "seen" && trust !== "verified") || extra !== undefined
      ) {
        skipped++;
        continue;
      }
      peers.#peers.set(peerKey(address), { address: peerKey(address), key, trust });
    }
    return { peers, skipped };
  }

  /** The file's text. */
  serialize(): string {
    const lines = ["# LUMI known peers: <address> <key> <seen|verified>"];
    for (const peer of [...this.#peers.values()].sort((a, b) => a.address < b.address ? -1 : 1)) {
      lines.push(`${peer.address} ${keyToText(peer.key)} ${peer.trust}`);
    }
    return lines.join("\n") + "\n";
  }

  /** The pinned entry of `address`, if any. */
  get(address: string): KnownPeer | undefined {
    return this.#peers.get(peerKey(address));
  }

  /** Compare the key `address` proved with its pin. */
  check(address: string, key: Uint8Array): PinCheck {
    const pinned = this.get(address);
    if (pinned === undefined) return { kind: "new" };
    if (sameKey(pinned.key, key)) return { kind: "match", trust: pinned.trust };
    return { kind: "changed", pinned: pinned.key };
  }

  /** Pin `key` for `address` (first contact, or `/trust` of a changed key): `seen`. */
  pin(address: string, key: Uint8Array): void {
    this.#peers.set(peerKey(address), { address: peerKey(address), key, trust: "seen" });
  }

  /** Mark the pinned key of `address` verified; false if nothing is pinned. */
  verify(address: string): boolean {
    const pinned = this.get(address);
    if (pinned === undefined) return false;
    this.#peers.set(pinned.address, { ...pinned, trust: "verified" });
    return true;
  }

  /** How many peers are pinned. */
  get size(): number {
    return this.#peers.size;
  }
}
