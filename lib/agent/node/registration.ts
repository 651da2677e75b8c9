/**
 * Registering with a node, original or extended (`v=2`, docs/PROTOCOL.md):
 * the padded first `PR` with the agent's session key, the password proof,
 * the check that the node's `RR0` proves the session key, the refusals in plain words
 * (no such user, wrong password, signed in elsewhere), and sign-up. With an
 * original node (which answers a bare `RR0`), only the first `PR` is sent.
 *
 * @module
 */

import {
  authMessage,
  type Bytes,
  createCredentials,
  DEFAULT_ITERATIONS,
  deriveClientKey,
  fromBase64Url,
  makeProof,
  storedKeyOf,
  toBase64Url,
} from "../../auth.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { RegisterReply, RegisterRequest } from "../../plumi/messages.ts";
import {
  deriveSessionKey,
  type ExtRegisterReply,
  grantProves,
  newSessionKeyPair,
  PADDED_PR_BYTES,
  RegisterExt,
  RequestSealer,
  type SessionKeyPair,
  SignUpExt,
} from "../../plumi/extensions/mod.ts";
import { RegistrationError } from "../errors.ts";
import { problem, report } from "../terminal/texts.ts";
import type { PlumiClient } from "./client.ts";
import { signupOpen } from "./signup_probe.ts";

/** What an extended node granted at registration. */
export interface NodeSession {
  /** Seals the session's requests with the key derived at log-in (never sent). */
  readonly sealer: RequestSealer;
  /** Heartbeat interval the node asks for, in ms. */
  readonly heartbeatMs: number;
  /** Sign-up is open on this node. */
  readonly signupOpen: boolean;
  /** The online list is available. */
  readonly onlineList: boolean;
  /** The node keeps and vouches for identity keys (`ik=1`: `PI` requests). */
  readonly identityKeys?: boolean;
}

/** The outcome of {@linkcode registerWith}. */
export type RegisterResult =
  | { readonly kind: "original" }
  | { readonly kind: "extended"; readonly session: NodeSession };

/** Where the password comes from when the node asks for one (called once per registration). */
export type PasswordSource = () => Promise<string | undefined>;

/** The node refused the password: the proof did not match, twice. */
export class WrongPasswordError extends RegistrationError {
  constructor(address: string, message = problem.wrongPassword(address)) {
    super(address, message);
    this.name = "WrongPasswordError";
  }
}

/**
 * Another agent is signed in as this user: the node refused this one
 * (`e=signed-in`), or a newcomer with `--replace` took the session over
 * (`RK1;e=replaced`). `at` is where the other agent is, when the node said.
 */
export class SignedInElsewhereError extends RegistrationError {
  readonly at: Endpoint | undefined;

  constructor(address: string, message: string, at?: Endpoint) {
    super(address, message);
    this.name = "SignedInElsewhereError";
    this.at = at;
  }
}

/** How the agent says that `address` is signed in elsewhere. */
export function signedInElsewhere(address: string, at: Endpoint | undefined): string {
  return problem.signedInElsewhere(address, at);
}

function domainOf(address: string): string {
  return address.slice(address.indexOf("@") + 1);
}

/**
 * The first `PR` an agent sends: `PR<address>;v=2`, padded to 100 bytes with
 * `;x=---…` so that an extended node may answer with a challenge. An
 * original node ignores everything after the address.
 */
export function firstRegistration(
  address: string,
  replace = false,
  sessionKey?: string,
): RegisterRequest {
  return RegisterExt.encodeRequest({
    address,
    replace,
    ...(sessionKey !== undefined && { sessionKey }),
    pad: { toBytes: PADDED_PR_BYTES },
  });
}

/** The node's answer to a `PR`, read by {@linkcode RegisterExt}; one that does not decode is a refusal. */
function answerOf(address: string, reply: RegisterReply): ExtRegisterReply {
  const answer = RegisterExt.decodeReply(reply);
  if (!answer.ok) {
    const { key, problem, message } = answer.error;
    throw refusal(address, key === "e" && problem === "missing" ? undefined : message);
  }
  return answer.value;
}

/** Options of {@linkcode registerWith}. */
export interface RegisterOptions {
  /** Take the session over if another agent is signed in as this user (`;replace`). Default: false. */
  readonly replace?: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Register `address` with the node, in the extended protocol if the node
 * speaks it: `PR…;v=2`, answering a password challenge with a proof when
 * the user has a password. Throws {@linkcode RegistrationError} with a
 * plain-words reason on refusal ({@linkcode WrongPasswordError},
 * {@linkcode SignedInElsewhereError}), {@linkcode NodeSilentError} when the
 * node is silent.
 */
export async function registerWith(
  client: PlumiClient,
  address: string,
  password: PasswordSource,
  options: RegisterOptions = {},
): Promise<RegisterResult> {
  const { signal, replace = false } = options;
  // One ephemeral key pair per log-in: retransmissions of its PRs carry the same key.
  const pair = newSessionKeyPair();
  const reply = await client.request(
    firstRegistration(address, replace, pair.publicKey),
    (m) => m.kind === "register-reply",
    signal,
  );
  if (reply.kind !== "register-reply") throw new Error("unreachable");
  const first = answerOf(address, reply);
  if (first.kind === "original") {
    if (first.registered) return { kind: "original" };
    throw new RegistrationError(
      address,
      problem.cannotRegister(address, problem.unknownUser(domainOf(address))),
    );
  }
  if (first.kind === "granted") {
    return { kind: "extended", session: sessionOf(address, pair, first, undefined) };
  }
  if (first.kind === "refused") {
    if (first.error === "user" && await signupOpen(client, address, signal)) {
      throw new RegistrationError(
        address,
        `${refusal(address, first.error).message}; ${report.signupHint(address)}`,
      );
    }
    throw refusal(address, first.error, first.at);
  }

  const secret = await password();
  if (secret === undefined || secret === "") {
    throw new RegistrationError(
      address,
      problem.cannotRegister(address, problem.passwordNeeded()),
    );
  }
  let challenge = first;
  let clientKey: Bytes | undefined;
  let salt = "";
  for (let attempt = 0; attempt < 2; attempt++) {
    const { nonce, salt: s, iterations } = challenge;
    const saltBytes = fromBase64Url(s);
    if (!saltBytes) throw refusal(address, "bad-challenge");
    if (!clientKey || s !== salt) {
      clientKey = await deriveClientKey(secret, saltBytes, iterations);
      salt = s;
    }
    const proof = toBase64Url(
      await makeProof(clientKey, authMessage("PR", address, nonce, pair.publicKey)),
    );
    const reply = await client.request(
      // Padded as the first: the RR0 that answers it is longer than the bare proof.
      RegisterExt.encodeRequest({
        address,
        replace,
        proof: { nonce, proof },
        pad: { toBytes: PADDED_PR_BYTES },
      }),
      (m) => m.kind === "register-reply",
      signal,
    );
    if (reply.kind !== "register-reply") throw new Error("unreachable");
    const answer = answerOf(address, reply);
    if (answer.kind === "granted") {
      const bind = await storedKeyOf(clientKey);
      return { kind: "extended", session: sessionOf(address, pair, answer, bind) };
    }
    if (answer.kind === "refused") throw refusal(address, answer.error, answer.at);
    if (answer.kind === "original") throw refusal(address, undefined);
    // A new challenge: either the password is wrong, or our proof arrived twice (a lost answer
    // made us send it again, and the second copy found its nonce spent). Try once more.
    challenge = answer;
  }
  throw new WrongPasswordError(address);
}

/**
 * The session of an `RR0`: its key derived from our key pair and the
 * node's `k=` (and, for a password account, `storedKey`), which the
 * answer's `m=` must prove, or something on the path changed the keys.
 */
function sessionOf(
  address: string,
  pair: SessionKeyPair,
  granted: Extract<ExtRegisterReply, { kind: "granted" }>,
  bind: Uint8Array | undefined,
): NodeSession {
  const key = deriveSessionKey({
    secretKey: pair.secretKey,
    peerKey: granted.nodeKey,
    address,
    agentKey: pair.publicKey,
    nodeKey: granted.nodeKey,
    ...(bind && { bind }),
  });
  if (!key || !grantProves(granted, key)) {
    throw new RegistrationError(
      address,
      problem.cannotRegister(address, problem.sessionKeyUnproven()),
    );
  }
  return {
    sealer: new RequestSealer(key),
    heartbeatMs: Math.max(1, granted.heartbeatSeconds || 30) * 1000,
    signupOpen: granted.signupOpen,
    onlineList: granted.onlineList,
    ...(granted.identityKeys && { identityKeys: true }),
  };
}

/** `code`: the node's `e=`, or why its answer could not be read. */
function refusal(address: string, code: string | undefined, at?: Endpoint): RegistrationError {
  if (code === "signed-in") {
    return new SignedInElsewhereError(
      address,
      `${signedInElsewhere(address, at)} (${problem.replaceHint()})`,
      at,
    );
  }
  const domain = domainOf(address);
  const why = code === "user"
    ? problem.unknownUser(domain)
    : code === "pad"
    ? problem.longerRequest()
    : problem.refusedCode(code);
  return new RegistrationError(address, problem.cannotRegister(address, why));
}

/** The answer to a sign-up. */
export type SignUpResult = "created" | "taken" | "invalid" | "closed";

/**
 * Create the account `address` with `password` on the node. Only the salt,
 * iteration count and stored key travel; never the password.
 */
export async function signUp(
  client: PlumiClient,
  address: string,
  password: string,
  iterations: number = DEFAULT_ITERATIONS,
  signal?: AbortSignal,
): Promise<SignUpResult> {
  const credentials = await createCredentials(password, iterations);
  const reply = await client.request(
    SignUpExt.encodeRequest({
      address,
      salt: toBase64Url(credentials.salt),
      iterations: credentials.iterations,
      storedKey: toBase64Url(credentials.storedKey),
    }),
    (m) => m.kind === "ext-reply" && m.type === "U",
    signal,
  );
  const answer = reply.kind === "ext-reply" ? SignUpExt.decodeReply(reply) : undefined;
  if (!answer?.ok) return "invalid";
  if (answer.value.kind === "created") return "created";
  // Over the hour's share (`rate`) is closed, for now; a failed database (`store`), invalid.
  return ({
    taken: "taken",
    invalid: "invalid",
    closed: "closed",
    rate: "closed",
    store: "invalid",
  } as const)[
    answer.value.error
  ];
}
