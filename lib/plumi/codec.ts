/**
 * Encoder and decoder for PLUMI datagrams. Pure: bytes in, typed messages out.
 * Decoding never throws; every malformed datagram comes back as a
 * {@linkcode PlumiError} whose `kind` can be counted and whose `message` logged.
 *
 * @module
 */

import { parseAddress, parseIp, parsePort } from "./address.ts";
import {
  type DecodeResult,
  type ExtensionType,
  isExtensionType,
  type LookupCode,
  MAX_PACKET_BYTES,
  type PlumiErrorKind,
  type PlumiMessage,
} from "./messages.ts";
import { isV2 } from "./params.ts";

/** Options of {@linkcode decodePlumi}. */
export interface DecodeOptions {
  /** Longest datagram accepted, in bytes. Default: 100, the original limit. */
  readonly maxBytes?: number;
  /**
   * Longest datagram accepted when it is an extended message (an extension
   * type, or PR/PD/RR/RD carrying `v=2`), in bytes. Default: `maxBytes`.
   */
  readonly maxExtendedBytes?: number;
}

const encoder = new TextEncoder();

function failure(kind: PlumiErrorKind, message: string): DecodeResult {
  return { ok: false, error: { kind, message } };
}

/** Render a datagram for a log line or an error message: printable ASCII as is, other bytes as `\xNN`. */
export function printable(bytes: Uint8Array, limit = 120): string {
  const end = Math.min(bytes.length, limit);
  // (`apply` takes the bytes as arguments: only for lengths far below the engine's limit.)
  let plain = end <= 4096;
  for (let i = 0; i < end && plain; i++) plain = bytes[i]! >= 0x20 && bytes[i]! < 0x7f;
  // One flat string either way: a string grown by `+=` is a chain of pieces, seven times slower
  // to build and five times larger in memory for a binary datagram held in the packet log.
  let out: string;
  if (plain) out = String.fromCharCode.apply(null, bytes.subarray(0, end) as unknown as number[]);
  else {
    const parts = new Array<string>(end);
    for (let i = 0; i < end; i++) parts[i] = SHOWN[bytes[i]!]!;
    out = parts.join("");
  }
  return bytes.length > limit ? `${out}…` : out;
}

/** How {@linkcode printable} shows each byte value. */
const SHOWN: readonly string[] = Array.from(
  { length: 256 },
  (_, b) =>
    b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`,
);

/**
 * Encode a message to its exact wire bytes.
 *
 * @example
 * ```ts
 * encodePlumi({ kind: "lookup", from: "u1@PC-c", to: "u2@PC-d" }); // bytes of "PLu1@PC-c:u2@PC-d"
 * ```
 */
export function encodePlumi(message: PlumiMessage): Uint8Array {
  return encoder.encode(formatPlumi(message));
}

/** The wire text of a message (PLUMI is ASCII, so text and bytes correspond one to one). */
export function formatPlumi(message: PlumiMessage): string {
  switch (message.kind) {
    case "register":
      return `PR${message.address}${withParams(message.params)}`;
    case "register-reply":
      return `RR${message.code}${withParams(message.params)}`;
    case "deregister":
      return `PD${message.address}${withParams(message.params)}`;
    case "deregister-reply":
      return `RD${message.code}${withParams(message.params)}`;
    case "lookup":
      return `PL${message.from}:${message.to}`;
    case "ext-request":
      return `P${message.type}${message.address}${withParams(message.params)}`;
    case "ext-reply":
      return `R${message.type}${message.code}${withParams(message.params)}`;
    case "lookup-reply": {
      let text = `RL${message.code}${message.from}:${message.to}`;
      if (message.endpoint) text += `:${message.endpoint.ip}:${message.endpoint.port}`;
      for (const field of message.extra) text += `:${field}`;
      return text;
    }
  }
}

function withParams(params: readonly string[]): string {
  return params.length === 0 ? "" : `;${params.join(";")}`;
}

/**
 * Decode one datagram. Never throws.
 *
 * @example
 * ```ts
 * const r = decodePlumi(new TextEncoder().encode("RR0"));
 * if (r.ok && r.message.kind === "register-reply") console.log(r.message.code); // 0
 * ```
 */
export function decodePlumi(bytes: Uint8Array, options: DecodeOptions = {}): DecodeResult {
  const maxBytes = options.maxBytes ?? MAX_PACKET_BYTES;
  const maxExtended = Math.max(maxBytes, options.maxExtendedBytes ?? maxBytes);
  if (bytes.length === 0) return failure("empty", "empty datagram");
  if (bytes.length > maxExtended) return tooLong(bytes.length, maxExtended);
  let text = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b < 0x20 || b > 0x7e) {
      return failure(
        "non-ascii",
        `byte 0x${b.toString(16).padStart(2, "0")} at offset ${i} is not printable ASCII`,
      );
    }
    text += String.fromCharCode(b);
  }
  const result = decodeText(text);
  if (result.ok && bytes.length > maxBytes && !isExtended(result.message)) {
    return tooLong(bytes.length, maxBytes);
  }
  return result;
}

function tooLong(length: number, limit: number): DecodeResult {
  return failure("too-long", `datagram of ${length} bytes exceeds the limit of ${limit}`);
}

/** Is this a message of the extended protocol (which may be longer than 100 bytes)? */
export function isExtended(message: PlumiMessage): boolean {
  switch (message.kind) {
    case "ext-request":
    case "ext-reply":
      return true;
    case "register":
    case "register-reply":
    case "deregister":
    case "deregister-reply":
      return isV2(message.params);
    default:
      return false;
  }
}

function decodeText(text: string): DecodeResult {
  const type = text.slice(0, 2);
  const body = text.slice(2);
  switch (type) {
    case "PR":
    case "PD":
      return decodeAddressRequest(type === "PR" ? "register" : "deregister", body);
    case "RR":
    case "RD":
      return decodeShortReply(type === "RR" ? "register-reply" : "deregister-reply", body);
    case "PL":
      return decodeLookup(body);
    case "RL":
      return decodeLookupReply(body);
  }
  const letter = type[1] ?? "";
  if (type.length === 2 && isExtensionType(letter)) {
    if (type[0] === "P") return decodeExtensionRequest(letter, body);
    if (type[0] === "R") return decodeExtensionReply(letter, body);
  }
  return failure("unknown-type", `unknown packet type "${type}"`);
}

function decodeExtensionRequest(type: ExtensionType, body: string): DecodeResult {
  const [address, params] = splitParams(body);
  const parsed = parseAddress(address);
  if (!parsed.ok) return failure(parsed.kind, parsed.message);
  return { ok: true, message: { kind: "ext-request", type, address, params } };
}

function decodeExtensionReply(type: ExtensionType, body: string): DecodeResult {
  const code = body.charCodeAt(0) - 0x30;
  if (!(code >= 0 && code <= 9)) {
    return failure("bad-code", `R${type} code must be a digit, got "${body.slice(0, 1)}"`);
  }
  const rest = body.slice(1);
  if (rest !== "" && rest[0] !== ";") {
    return failure("trailing-data", `unexpected "${rest}" after the code`);
  }
  const [, params] = splitParams(rest);
  return { ok: true, message: { kind: "ext-reply", type, code, params } };
}

function splitParams(text: string): [string, string[]] {
  const semi = text.indexOf(";");
  if (semi < 0) return [text, []];
  return [text.slice(0, semi), text.slice(semi + 1).split(";").filter((p) => p !== "")];
}

function decodeAddressRequest(kind: "register" | "deregister", body: string): DecodeResult {
  const [address, params] = splitParams(body);
  const parsed = parseAddress(address);
  if (!parsed.ok) return failure(parsed.kind, parsed.message);
  return { ok: true, message: { kind, address, params } };
}

function decodeShortReply(kind: "register-reply" | "deregister-reply", body: string): DecodeResult {
  const code = body[0];
  if (code !== "0" && code !== "1") {
    return failure(
      "bad-code",
      `${kind === "register-reply" ? "RR" : "RD"} code must be 0 or 1, got "${body.slice(0, 1)}"`,
    );
  }
  const rest = body.slice(1);
  if (rest !== "" && rest[0] !== ";") {
    return failure("trailing-data", `unexpected "${rest}" after the code`);
  }
  const [, params] = splitParams(rest);
  return { ok: true, message: { kind, code: code === "0" ? 0 : 1, params } };
}

function parseTwoAddresses(
  from: string,
  to: string,
): { ok: true } | { ok: false; result: DecodeResult } {
  for (const text of [from, to]) {
    const parsed = parseAddress(text);
    if (!parsed.ok) return { ok: false, result: failure(parsed.kind, parsed.message) };
  }
  return { ok: true };
}

function decodeLookup(body: string): DecodeResult {
  const parts = body.split(":");
  if (parts.length < 2) {
    return failure("missing-colon", `look-up "${body}" has no ":" between the two addresses`);
  }
  if (parts.length > 2) {
    return failure("trailing-data", `look-up "${body}" has fields after the callee`);
  }
  const [from, to] = parts as [string, string];
  const check = parseTwoAddresses(from, to);
  if (!check.ok) return check.result;
  return { ok: true, message: { kind: "lookup", from, to } };
}

function decodeLookupReply(body: string): DecodeResult {
  const c = body.charCodeAt(0) - 0x30;
  if (!(c >= 0 && c <= 3)) {
    return failure("bad-code", `RL code must be 0-3, got "${body.slice(0, 1)}"`);
  }
  const code = c as LookupCode;
  const parts = body.slice(1).split(":");
  if (parts.length < 2) {
    return failure(
      "missing-colon",
      `look-up answer "${body}" has no ":" between the two addresses`,
    );
  }
  const [from, to] = parts as [string, string];
  const check = parseTwoAddresses(from, to);
  if (!check.ok) return check.result;
  if (parts.length === 2) {
    if (code === 0) return failure("missing-endpoint", "RL0 must carry the callee's :ip:port");
    return { ok: true, message: { kind: "lookup-reply", code, from, to, extra: [] } };
  }
  if (parts.length === 3) {
    return failure("missing-colon", `look-up answer "${body}" has an IP but no ":port"`);
  }
  const ip = parseIp(parts[2]!);
  if (!ip.ok) return failure("bad-ip", ip.message);
  const port = parsePort(parts[3]!);
  if (!port.ok) return failure("bad-port", port.message);
  return {
    ok: true,
    message: {
      kind: "lookup-reply",
      code,
      from,
      to,
      endpoint: { ip: ip.value, port: port.value },
      extra: parts.slice(4),
    },
  };
}
