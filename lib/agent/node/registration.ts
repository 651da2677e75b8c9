/**
 * Registering with a node, original or extended (`v=2`, docs/PROTOCOL.md):
 * the padded first `PR`, the password proof, the refusals in plain words
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
  toBase64Url,
} from "../../auth.ts";
import { type Endpoint, formatEndpoint, parseEndpoint } from "../../plumi/address.ts";
import { formatPlumi } from "../../plumi/codec.ts";
import type { RegisterRequest } from "../../plumi/messages.ts";
import { isV2, param } from "../../plumi/params.ts";
import { RegistrationError } from "../errors.ts";
import { report } from "../terminal/texts.ts";
import type { PlumiClient } from "./client.ts";
import { signupOpen } from "./signup_probe.ts";

/** What an extended node granted at registration. */
export interface NodeSession {
  /** Secret proving later requests are this agent's. */
  readonly token: string;
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
export type Registration =
  | { readonly kind: "original" }
  | { readonly kind: "extended"; readonly session: NodeSession };

/** Where the password comes from when the node asks for one (called once per registration). */
export type PasswordSource = () => Promise<string | undefined>;

/** The node refused the password: the proof did not match, twice. */
export class WrongPasswordError extends RegistrationError {
  constructor(address: string, message = `Cannot register ${address}: wrong password`) {
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

/** The `at=<ip>:<port>` parameter, if present and valid. */
export function endpointParam(params: readonly string[]): Endpoint | undefined {
  const text = param(params, "at");
  if (text === undefined) return undefined;
  const parsed = parseEndpoint(text);
  return parsed.ok ? parsed.value : undefined;
}

/** How the agent says that `address` is signed in elsewhere. */
export function signedInElsewhere(address: string, at: Endpoint | undefined): string {
  return `${address} is already signed in from ${at ? formatEndpoint(at) : "another place"}`;
}

/** A PR without proof is padded to this many bytes, so the node may answer with a challenge. */
const PADDED_PR_BYTES = 100;

function pad(message: RegisterRequest): RegisterRequest {
  const length = formatPlumi(message).length;
  const room = PADDED_PR_BYTES - length - 3; // ";x="
  return room > 0 ? { ...message, params: [...message.params, `x=${"-".repeat(room)}`] } : message;
}

function domainOf(address: string): string {
  return address.slice(address.indexOf("@") + 1);
}

/**
 * The first `PR` an agent sends: `PR<address>;v=2`, padded to 100 bytes with
 * `;x=---…` so that an extended node may answer with a challenge. An
 * original node ignores everything after the address.
 */
export function firstRegistration(address: string, replace = false): RegisterRequest {
  return pad({ kind: "register", address, params: ["v=2", ...(replace ? ["replace"] : [])] });
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
): Promise<Registration> {
  const { signal, replace = false } = options;
  const wants = replace ? ["replace"] : [];
  const first = await client.request(
    firstRegistration(address, replace),
    (m) => m.kind === "register-reply",
    signal,
  );
  if (first.kind !== "register-reply") throw new Error("unreachable");
  if (!isV2(first.params)) {
    if (first.code === 0) return { kind: "original" };
    throw new RegistrationError(
      address,
      `Cannot register ${address}: the node of ${domainOf(address)} does not know this user`,
    );
  }
  if (first.code === 0) return { kind: "extended", session: sessionOf(first.params) };
  const error = param(first.params, "e");
  if (error === "user" && await signupOpen(client, address, signal)) {
    throw new RegistrationError(
      address,
      `${refusal(address, error, first.params).message}; ${report.signupHint(address)}`,
    );
  }
  if (error !== "auth") throw refusal(address, error, first.params);

  const secret = await password();
  if (secret === undefined || secret === "") {
    throw new RegistrationError(
      address,
      `Cannot register ${address}: this user has a password; give it (LUMI_PASSWORD, or type it when asked)`,
    );
  }
  let challenge: readonly string[] = first.params;
  let clientKey: Bytes | undefined;
  let salt = "";
  for (let attempt = 0; attempt < 2; attempt++) {
    const nonce = param(challenge, "n") ?? "";
    const s = param(challenge, "s") ?? "";
    const iterations = Number(param(challenge, "i"));
    const saltBytes = fromBase64Url(s);
    if (!saltBytes || !Number.isInteger(iterations) || iterations < 1) {
      throw refusal(address, "bad-challenge", []);
    }
    if (!clientKey || s !== salt) {
      clientKey = await deriveClientKey(secret, saltBytes, iterations);
      salt = s;
    }
    const proof = toBase64Url(await makeProof(clientKey, authMessage("PR", address, nonce)));
    const answer = await client.request(
      { kind: "register", address, params: ["v=2", `n=${nonce}`, `p=${proof}`, ...wants] },
      (m) => m.kind === "register-reply",
      signal,
    );
    if (answer.kind !== "register-reply") throw new Error("unreachable");
    if (answer.code === 0 && isV2(answer.params)) {
      return { kind: "extended", session: sessionOf(answer.params) };
    }
    const code = param(answer.params, "e");
    if (code !== "auth") throw refusal(address, code, answer.params);
    // A new challenge: either the password is wrong, or our proof arrived twice (a lost answer
    // made us send it again, and the second copy found its nonce spent). Try once more.
    challenge = answer.params;
  }
  throw new WrongPasswordError(address);
}

function sessionOf(params: readonly string[]): NodeSession {
  return {
    token: param(params, "t") ?? "",
    heartbeatMs: Math.max(1, Number(param(params, "hb")) || 30) * 1000,
    signupOpen: param(params, "su") === "1",
    onlineList: param(params, "ol") !== "0",
    identityKeys: param(params, "ik") === "1",
  };
}

function refusal(
  address: string,
  code: string | undefined,
  params: readonly string[],
): RegistrationError {
  if (code === "signed-in") {
    const at = endpointParam(params);
    return new SignedInElsewhereError(
      address,
      `${signedInElsewhere(address, at)} (--replace signs in here and stops the other agent)`,
      at,
    );
  }
  const domain = domainOf(address);
  const why = code === "user"
    ? `the node of ${domain} does not know this user`
    : code === "pad"
    ? "the node wants a longer request (this agent is out of date)"
    : `the node refused it (${code ?? "no reason given"})`;
  return new RegistrationError(address, `Cannot register ${address}: ${why}`);
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
    {
      kind: "ext-request",
      type: "U",
      address,
      params: [
        `s=${toBase64Url(credentials.salt)}`,
        `i=${credentials.iterations}`,
        `k=${toBase64Url(credentials.storedKey)}`,
      ],
    },
    (m) => m.kind === "ext-reply" && m.type === "U",
    signal,
  );
  const code = reply.kind === "ext-reply" ? reply.code : -1;
  return (["created", "taken", "invalid", "closed"] as const)[code] ?? "invalid";
}
