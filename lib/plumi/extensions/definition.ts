/**
 * What every extension message's definition provides: encode and decode of
 * its request and of its reply, the fields they carry and examples from
 * docs/PROTOCOL.md. Node handlers, agent methods, the fuzzers and the tests
 * all use the same definitions.
 *
 * @module
 */

import type { ExtensionReply, ExtensionRequest, ExtensionType } from "../messages.ts";
import { formatPlumi } from "../codec.ts";
import { type Decoded, fail, type Failed, type Field, PADDING } from "./fields.ts";

/** The description of a message that needs no types: for the fuzzers, the tests, the docs. */
export interface MessageInfo {
  /** What it is, in words (`heartbeat`). */
  readonly name: string;
  /** The request's packet type (`PK`; `PR` for the extended registration). */
  readonly request: string;
  /** The answer's packet type (`RK`). */
  readonly reply: string;
  /** Every field its requests and answers may carry. */
  readonly fields: readonly Field<unknown>[];
  /** Wire examples: each decodes and encodes back to itself. */
  readonly examples: readonly string[];
}

/**
 * One extension message: its request (`Req` as `ReqMsg` on the wire) and
 * its answer (`Rep` as `RepMsg`). Decoding never throws.
 */
export interface ExtensionDefinition<Req, Rep, ReqMsg, RepMsg> extends MessageInfo {
  /** The request as a PLUMI message (then `encodePlumi` gives its bytes). */
  encodeRequest(request: Req): ReqMsg;
  /** The request's parameters, read; never throws. */
  decodeRequest(message: ReqMsg): Decoded<Req>;
  /** The answer as a PLUMI message. */
  encodeReply(reply: Rep): RepMsg;
  /** The answer's code and parameters, read; never throws. */
  decodeReply(message: RepMsg): Decoded<Rep>;
}

/** `P<type><address>;<params>`. */
export function extRequest(
  type: ExtensionType,
  address: string,
  params: readonly string[],
): ExtensionRequest {
  return { kind: "ext-request", type, address, params };
}

/**
 * `P<type><address>;<params>;x=---…`, padded to `bytes` bytes: a node's
 * question whose answer (at most `bytes`) must not be longer than it (the
 * amplification rule). `x=` is there even when no dash is needed.
 */
export function paddedRequest(
  type: ExtensionType,
  address: string,
  params: readonly string[],
  bytes: number,
): ExtensionRequest {
  const bare = formatPlumi(extRequest(type, address, params)).length;
  const dashes = Math.max(0, bytes - bare - ";x=".length);
  return extRequest(type, address, [...params, PADDING.write(dashes)]);
}

/** `R<type><code>;<params>`. */
export function extReply(
  type: ExtensionType,
  code: number,
  params: readonly string[],
): ExtensionReply {
  return { kind: "ext-reply", type, code, params };
}

/** A failure for a message of another type than the definition's. */
export function wrongType(expected: string, got: string): Failed {
  return fail("malformed", "type", `expected ${expected}, got ${got}`);
}
