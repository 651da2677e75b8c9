/**
 * `PR…;v=2` / `RR…;v=2`: the extended registration, with its password
 * challenge and the session it grants (docs/PROTOCOL.md, "Registration,
 * authentication and sessions").
 *
 * ```
 * PRlaura@bb.com;v=2;k=<agent key>[;replace];x=-----…    the first PR, padded to 100 bytes
 * RR1;v=2;e=auth;n=<nonce>;s=<salt>;i=<iterations>         a challenge
 * PRlaura@bb.com;v=2;n=<nonce>;p=<proof>[;replace];x=---…  the proof, padded to 100 bytes
 * RR0;v=2;k=<node key>;hb=<s>;su=<0|1>;ol=<0|1>[;ik=1];m=<mac>  the session (ik=1: identity keys kept)
 * RR1;v=2;e=user|pad|signed-in|store|invalid[;at=<ip>:<port>]
 * ```
 *
 * An original node answers a bare `RR0` / `RR1` (`kind: "original"`).
 *
 * @module
 */

import type { Endpoint } from "../address.ts";
import { formatPlumi } from "../codec.ts";
import type { RegisterReply, RegisterRequest } from "../messages.ts";
import { isV2, V2 } from "../params.ts";
import type { ExtensionDefinition } from "./definition.ts";
import { errorField } from "./errors.ts";
import {
  AT,
  base64Field,
  countField,
  type Decoded,
  fail,
  flagField,
  ok,
  optional,
  PADDING,
  pick,
  required,
  wordField,
} from "./fields.ts";
import { MAC, macMatches, macOf, SESSION_KEY } from "./session.ts";

/** The codes of a refused extended registration (`e=auth` comes with a challenge). */
export const REGISTER_ERRORS = ["user", "pad", "signed-in", "store", "invalid"] as const;

/** Why an extended registration was refused. */
export type RegisterError = typeof REGISTER_ERRORS[number];

/** The size the first `PR` is padded to, so that a challenge may answer it (amplification rule). */
export const PADDED_PR_BYTES = 100;

/** Dashes of the padding of a node's capability probe and presence query (`x=` + 40 dashes). */
export const NODE_PADDING_DASHES = 40;

/** How a `PR` is padded with `;x=---…`. */
export type RegisterPadding =
  /** To this many bytes in all (an agent's first `PR`). */
  | { readonly toBytes: number }
  /** With this many dashes (a node's capability probe). */
  | { readonly dashes: number };

/** An extended registration. */
export interface ExtRegisterRequest {
  readonly address: string;
  /** Take the session over from another agent (`replace`). */
  readonly replace: boolean;
  /** The agent's ephemeral X25519 public key (`k=`), in the first `PR`. */
  readonly sessionKey?: string;
  /** The answer to a challenge. */
  readonly proof?: { readonly nonce: string; readonly proof: string };
  /** Padding when encoding (never decoded). */
  readonly pad?: RegisterPadding;
}

/** The node's answer to a registration. */
export type ExtRegisterReply =
  /** An original node: a bare `RR0` (registered) or `RR1`. */
  | { readonly kind: "original"; readonly registered: boolean }
  | {
    readonly kind: "granted";
    /** The node's ephemeral X25519 public key (`k=`). */
    readonly nodeKey: string;
    /** `m=`: the MAC of the answer under the session key (see {@linkcode sealGrant}); `""` before. */
    readonly mac: string;
    /** Heartbeat interval, in seconds. */
    readonly heartbeatSeconds: number;
    readonly signupOpen: boolean;
    readonly onlineList: boolean;
    /** The node keeps and vouches for identity keys (`ik=1`: `PI` requests, `IdentityExt`). */
    readonly identityKeys?: boolean;
  }
  | {
    readonly kind: "challenge";
    readonly nonce: string;
    readonly salt: string;
    readonly iterations: number;
  }
  | { readonly kind: "refused"; readonly error: RegisterError; readonly at?: Endpoint };

const NONCE = base64Field("n", 64, "base64", true);
const PROOF = base64Field("p", 88, "base64", true);
const REPLACE = flagField("replace");
const HEARTBEAT = countField("hb", 0, 86_400);
const SIGNUP = wordField("su", ["0", "1"] as const);
const ONLINE = wordField("ol", ["0", "1"] as const);
const IDENTITY_KEYS = wordField("ik", ["1"] as const);
const ERROR = errorField(["auth", ...REGISTER_ERRORS] as const);
const SALT = base64Field("s", 128);
const ITERATIONS = countField("i", 1, 999_999_999);

const REQUEST_KEYS = [SESSION_KEY.key, NONCE.key, PROOF.key, REPLACE.key];
const REPLY_KEYS = [
  SESSION_KEY.key,
  HEARTBEAT.key,
  SIGNUP.key,
  ONLINE.key,
  IDENTITY_KEYS.key,
  MAC.key,
];
const CHALLENGE_KEYS = [ERROR.key, NONCE.key, SALT.key, ITERATIONS.key, AT.key];

function padded(message: RegisterRequest, pad: RegisterPadding | undefined): RegisterRequest {
  if (!pad) return message;
  const dashes = "dashes" in pad
    ? pad.dashes
    : pad.toBytes - formatPlumi(message).length - ";x=".length;
  return dashes > 0 ? { ...message, params: [...message.params, PADDING.write(dashes)] } : message;
}

/** The extended registration, `PR…;v=2` / `RR…;v=2`. */
export const RegisterExt: ExtensionDefinition<
  ExtRegisterRequest,
  ExtRegisterReply,
  RegisterRequest,
  RegisterReply
> = {
  name: "extended registration",
  request: "PR",
  reply: "RR",
  fields: [
    SESSION_KEY,
    NONCE,
    PROOF,
    REPLACE,
    PADDING,
    HEARTBEAT,
    SIGNUP,
    ONLINE,
    IDENTITY_KEYS,
    ERROR,
    SALT,
    ITERATIONS,
    AT,
    MAC,
  ],
  examples: [
    "PRlaura@bb.com;v=2;k=3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA;x=" + "-".repeat(33),
    "PRlaura@bb.com;v=2;k=3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA;replace;x=" + "-".repeat(25),
    "PR.lumi-probe@cc.com;v=2;x=" + "-".repeat(NODE_PADDING_DASHES),
    "PRlaura@bb.com;v=2;n=AAAAAAAAAAAAAAAAAAAAAA;p=CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC;x=--------",
    "PRlaura@bb.com;v=2;n=AAAAAAAAAAAAAAAAAAAAAA;p=CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC;replace",
    "RR0",
    "RR1",
    "RR0;v=2;k=3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA;hb=30;su=0;ol=1;m=DDDDDDDDDDDDDDDD",
    "RR0;v=2;k=3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA;hb=30;su=0;ol=1;ik=1;m=DDDDDDDDDDDDDDDD",
    "RR1;v=2;e=auth;n=AAAAAAAAAAAAAAAAAAAAAA;s=BBBBBBBBBBBBBBBBBBBBBB;i=600000",
    "RR1;v=2;e=user",
    "RR1;v=2;e=pad",
    "RR1;v=2;e=signed-in",
    "RR1;v=2;e=signed-in;at=10.0.0.7:4000",
    "RR1;v=2;e=store",
    "RR1;v=2;e=invalid",
  ],

  encodeRequest({ address, replace, sessionKey, proof, pad }): RegisterRequest {
    const params = [V2];
    if (sessionKey !== undefined) params.push(SESSION_KEY.write(sessionKey));
    if (proof) params.push(NONCE.write(proof.nonce), PROOF.write(proof.proof));
    if (replace) params.push(REPLACE.write(true));
    return padded({ kind: "register", address, params }, pad);
  },

  decodeRequest(message): Decoded<ExtRegisterRequest> {
    if (!isV2(message.params)) return fail("missing", "v", "not an extended registration (no v=2)");
    const picked = pick(message.params, REQUEST_KEYS);
    if (!picked.ok) return picked;
    const key = optional(picked.value, SESSION_KEY);
    if (!key.ok) return key;
    const nonce = optional(picked.value, NONCE);
    if (!nonce.ok) return nonce;
    const proof = optional(picked.value, PROOF);
    if (!proof.ok) return proof;
    const replace = optional(picked.value, REPLACE);
    if (!replace.ok) return replace;
    const base = {
      address: message.address,
      replace: replace.value === true,
      ...(key.value !== undefined && { sessionKey: key.value }),
    };
    return ok(
      nonce.value !== undefined && proof.value !== undefined
        ? { ...base, proof: { nonce: nonce.value, proof: proof.value } }
        : base,
    );
  },

  encodeReply(reply): RegisterReply {
    switch (reply.kind) {
      case "original":
        return { kind: "register-reply", code: reply.registered ? 0 : 1, params: [] };
      case "granted":
        return {
          kind: "register-reply",
          code: 0,
          params: [
            V2,
            SESSION_KEY.write(reply.nodeKey),
            HEARTBEAT.write(reply.heartbeatSeconds),
            SIGNUP.write(reply.signupOpen ? "1" : "0"),
            ONLINE.write(reply.onlineList ? "1" : "0"),
            ...(reply.identityKeys ? [IDENTITY_KEYS.write("1")] : []),
            ...(reply.mac === "" ? [] : [MAC.write(reply.mac)]),
          ],
        };
      case "challenge":
        return {
          kind: "register-reply",
          code: 1,
          params: [
            V2,
            ERROR.write("auth"),
            NONCE.write(reply.nonce),
            SALT.write(reply.salt),
            ITERATIONS.write(reply.iterations),
          ],
        };
      case "refused":
        return {
          kind: "register-reply",
          code: 1,
          params: [V2, ERROR.write(reply.error), ...(reply.at ? [AT.write(reply.at)] : [])],
        };
    }
  },

  decodeReply(message): Decoded<ExtRegisterReply> {
    if (!isV2(message.params)) return ok({ kind: "original", registered: message.code === 0 });
    if (message.code === 0) {
      const picked = pick(message.params, REPLY_KEYS);
      if (!picked.ok) return picked;
      const nodeKey = required(picked.value, SESSION_KEY);
      if (!nodeKey.ok) return nodeKey;
      const mac = required(picked.value, MAC);
      if (!mac.ok) return mac;
      const hb = optional(picked.value, HEARTBEAT);
      if (!hb.ok) return hb;
      const su = optional(picked.value, SIGNUP);
      if (!su.ok) return su;
      const ol = optional(picked.value, ONLINE);
      if (!ol.ok) return ol;
      const ik = optional(picked.value, IDENTITY_KEYS);
      if (!ik.ok) return ik;
      return ok({
        kind: "granted",
        nodeKey: nodeKey.value,
        mac: mac.value,
        heartbeatSeconds: hb.value ?? 0,
        signupOpen: su.value === "1",
        onlineList: ol.value !== "0",
        ...(ik.value === "1" && { identityKeys: true }),
      });
    }
    const picked = pick(message.params, CHALLENGE_KEYS);
    if (!picked.ok) return picked;
    const error = required(picked.value, ERROR);
    if (!error.ok) return error;
    if (error.value === "auth") {
      const nonce = required(picked.value, NONCE);
      if (!nonce.ok) return nonce;
      const salt = required(picked.value, SALT);
      if (!salt.ok) return salt;
      const iterations = required(picked.value, ITERATIONS);
      if (!iterations.ok) return iterations;
      return ok({
        kind: "challenge",
        nonce: nonce.value,
        salt: salt.value,
        iterations: iterations.value,
      });
    }
    const at = optional(picked.value, AT);
    if (!at.ok) return at;
    return ok(
      at.value
        ? { kind: "refused", error: error.value, at: at.value }
        : { kind: "refused", error: error.value },
    );
  },
};

/** Does this `PR` ask to take the session over (`replace`, read as {@linkcode RegisterExt} reads it)? */
export function wantsReplace(message: RegisterRequest): boolean {
  const decoded = RegisterExt.decodeRequest(message);
  return decoded.ok && decoded.value.replace;
}

/**
 * The `RR0` of `granted` with its `m=`: the MAC, under the session key,
 * of the answer up to `;m=`. Proves to the agent that the node derived
 * the same key (for a password account: that it knows the `storedKey`).
 */
export function sealGrant(
  granted: Extract<ExtRegisterReply, { kind: "granted" }>,
  key: Uint8Array,
): RegisterReply {
  const text = formatPlumi(RegisterExt.encodeReply({ ...granted, mac: "" }));
  return RegisterExt.encodeReply({ ...granted, mac: macOf(key, text) });
}

/** Does the `m=` of `granted` (decoded from an `RR0`) prove the session key `key`? */
export function grantProves(
  granted: Extract<ExtRegisterReply, { kind: "granted" }>,
  key: Uint8Array,
): boolean {
  const text = formatPlumi(RegisterExt.encodeReply({ ...granted, mac: "" }));
  return macMatches(key, text, granted.mac);
}

/** The agent's session key (`k=`) of a `PR`, read alone (when other parameters do not decode). */
export function registerSessionKey(message: RegisterRequest): string | undefined {
  const picked = pick(message.params, [SESSION_KEY.key]);
  if (!picked.ok) return undefined;
  const key = optional(picked.value, SESSION_KEY);
  return key.ok ? key.value : undefined;
}
