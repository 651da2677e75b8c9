/**
 * The agent's side of PLUMI, with its own node: finding the node
 * (`find_node.ts`) and the IP to advertise (`advertise.ts`), the UDP client
 * with retransmission that hears only its node (`client.ts`), registering and
 * signing up (`registration.ts`, `signup_probe.ts`), signing in and out as
 * the user lives it (`sign_in.ts`), the `v=2` session once registered:
 * heartbeats, buddies, who is online (`extended_client.ts`), and the
 * buddy commands (`presence.ts`).
 *
 * @module
 */

export { chooseAdvertiseIp, type InterfaceAddress, isLoopback } from "./advertise.ts";
export { PlumiClient, type PlumiClientOptions } from "./client.ts";
export {
  type BuddyState,
  type BuddyStatus,
  ExtendedSession,
  type ExtendedSessionOptions,
} from "./extended_client.ts";
export { DEFAULT_NODE_PORT, locateNode, locateNodes } from "./find_node.ts";
export { Presence } from "./presence.ts";
export {
  firstRegistration,
  type NodeSession,
  type PasswordSource,
  type RegisterOptions,
  type RegisterResult,
  registerWith,
  SignedInElsewhereError,
  signUp,
  type SignUpResult,
  WrongPasswordError,
} from "./registration.ts";
export { GaveUpError } from "./sign_in.ts";
