/**
 * What the node counts and what it tells the operator: one counters object
 * shared by the parts of the packet path (the server, the outbox).
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import type { PlumiErrorKind } from "../plumi/messages.ts";
import type { DropReason } from "./core.ts";

/** Why a datagram is dropped without an answer. */
export type NodeDropReason =
  | DropReason
  | "unresolved-domain"
  | "forward-to-self"
  | "rate-limited"
  | "amplification-guard"
  | "unverified-node"
  | "move-pending"
  | "internal-error";

/** Counters of what the node has seen and done. */
export interface NodeStats {
  received: number;
  sent: number;
  /** Datagrams sent to other domains' nodes. */
  forwarded: number;
  /** Sends the operating system refused. */
  sendFailures: number;
  /** Malformed datagrams, by reason. */
  malformed: Partial<Record<PlumiErrorKind, number>>;
  /** Well-formed messages dropped without an answer, by reason. */
  dropped: Partial<Record<NodeDropReason, number>>;
  /** Sources banned for flooding. */
  bans: number;
}

/** Something worth telling the operator about. */
export type NodeEvent =
  | { readonly kind: "malformed"; readonly from: Endpoint; readonly reason: string }
  | { readonly kind: "dropped"; readonly from: Endpoint; readonly reason: string }
  | { readonly kind: "banned"; readonly from: Endpoint; readonly reason: string }
  | { readonly kind: "internal-error"; readonly from: Endpoint; readonly reason: string };

/** Fresh counters, all zero. */
export function newNodeStats(): NodeStats {
  return {
    received: 0,
    sent: 0,
    forwarded: 0,
    sendFailures: 0,
    malformed: {},
    dropped: {},
    bans: 0,
  };
}

/** Add one to `counts[key]`. */
export function bump<K extends string>(counts: Partial<Record<K, number>>, key: K): void {
  counts[key] = (counts[key] ?? 0) + 1;
}
