/**
 * Whether an extended node allows sign-up, asked without creating anything:
 * a `PU` without salt or key, which such a node answers `RU3;e=closed` when
 * sign-up is off and `RU2;e=invalid` (nothing created) when it is on. Sent
 * only to a node that answered `v=2`: an original node never sees it.
 *
 * @module
 */

import type { PlumiClient } from "./client.ts";

/** `true` when the node of `address` says sign-up is open; `false` if closed, silent or unclear. */
export async function signupOpen(
  client: PlumiClient,
  address: string,
  signal?: AbortSignal,
): Promise<boolean> {
  try {
    const reply = await client.request(
      { kind: "ext-request", type: "U", address, params: [] },
      (m) => m.kind === "ext-reply" && m.type === "U",
      signal,
    );
    return reply.kind === "ext-reply" && reply.code === 2;
  } catch {
    return false;
  }
}
