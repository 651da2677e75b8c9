/**
 * Agent features in the look-up answer (`/work/shared/PROTOCOL.md` part 2):
 * an extended callee appends `:`-separated fields after the port of its
 * `RL0`, which an original caller never reads. Ours are `v=2` (this project's
 * PMI extensions), `g=<port>` (the TCP port where it accepts group links) and
 * `e=1` (it speaks the encrypted channel on conversations, `secure.ts`).
 * Pure.
 *
 * @module
 */

import { encodePlumi } from "../../plumi/codec.ts";
import { type LookupReply, MAX_PACKET_BYTES } from "../../plumi/messages.ts";
import type { Endpoint } from "../../plumi/address.ts";

/** What a callee said it understands, read from the extra fields of its `RL0`. */
export interface PeerFeatures {
  /** `v=2` was present: the callee speaks this project's PMI extensions. */
  readonly extended: boolean;
  /** `g=<port>`: the callee accepts group links on this TCP port (same IP as its @sckMI). */
  readonly groupPort?: number;
  /** `e=1` (with `v=2`): the callee speaks the encrypted channel on its conversations. */
  readonly encrypted?: boolean;
}

/** The features of an original peer: none. */
export const NO_FEATURES: PeerFeatures = { extended: false };

/**
 * Read the extra fields of an `RL0`. Unknown fields are ignored, and so is a
 * `g=` without `v=2` or with a bad port.
 *
 * @example
 * ```ts
 * parseFeatures(["v=2", "g=4001"]); // { extended: true, groupPort: 4001 }
 * parseFeatures([]); // { extended: false }
 * ```
 */
export function parseFeatures(extra: readonly string[]): PeerFeatures {
  if (!extra.includes("v=2")) return NO_FEATURES;
  let groupPort: number | undefined;
  for (const field of extra) {
    const match = field.match(/^g=([1-9]\d{0,4})$/);
    if (match && Number(match[1]) <= 65535) groupPort = Number(match[1]);
  }
  const features: PeerFeatures = groupPort === undefined
    ? { extended: true }
    : { extended: true, groupPort };
  return extra.includes("e=1") ? { ...features, encrypted: true } : features;
}

/**
 * The extra fields an agent appends: `v=2`, `g=<port>` when it accepts group
 * links on `groupPort`, `e=1` when it speaks the encrypted channel.
 */
export function featureFields(groupPort: number | undefined, encrypted = false): string[] {
  const fields = groupPort === undefined ? ["v=2"] : ["v=2", `g=${groupPort}`];
  return encrypted ? [...fields, "e=1"] : fields;
}

/**
 * The `RL0` an extended callee sends: with its feature fields when the
 * datagram still fits the 100 bytes an original node or agent accepts
 * (an `RL` may travel through original nodes), plain otherwise, in which
 * case the caller simply sees an original agent.
 *
 * @example
 * ```ts
 * availableReply("u1@PC-c", "u2@PC-d", { ip: "10.0.0.2", port: 43038 }, ["v=2", "g=43039"]);
 * // RL0u1@PC-c:u2@PC-d:10.0.0.2:43038:v=2:g=43039
 * ```
 */
export function availableReply(
  from: string,
  to: string,
  endpoint: Endpoint,
  fields: readonly string[],
): LookupReply {
  const reply: LookupReply = { kind: "lookup-reply", code: 0, from, to, endpoint, extra: fields };
  if (fields.length === 0 || encodePlumi(reply).length <= MAX_PACKET_BYTES) return reply;
  return { ...reply, extra: [] };
}
