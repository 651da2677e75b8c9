/**
 * The group-chat PMI extension on the wire. Pure.
 *
 * Everything on a group link after the nickname exchange is a **record**: a
 * line of UTF-8 text starting with a one-letter verb. A record travels in one
 * or more `G` frames (`G<len><flag><piece>`): `flag` is `+` when the record
 * continues in the next `G` frame and `.` on its last piece, so every frame
 * stays within the 102 bytes of PMI, and a receiver that reassembles pieces
 * refuses any record longer than {@linkcode MAX_RECORD_BYTES}.
 *
 * | record                                  | meaning                                                       |
 * | --------------------------------------- | ------------------------------------------------------------- |
 * | `J <i\|m> <gid> <ip:port> <addr> <name> <cap> [<secret>]` | caller: join request, `i` invitation (the invitee's capability and the group secret) or `m` mesh link (the caller's capability) |
 * | `W <ip:port> <addr>`                    | callee: welcome, the link is up                               |
 * | `X <reason>`                            | callee: refused; the link closes                              |
 * | `P <o\|n> <ip:port> <addr> <nick>`       | a member with its group endpoint (`o` already there, `n` new) |
 * | `A <o\|n> <rid> <addr> <nick>`           | an original agent the sender relays, numbered `rid`          |
 * | `D <rid> <left\|lost>`                   | that relayed agent left, or its connection was lost          |
 * | `M <seq> <text>`                        | a line of the sender, `seq` = 1, 2, 3… per sender and group   |
 * | `R <rid> <seq> <text>`                  | a line of relayed agent `rid`, numbered by the relay          |
 * | `Q`                                     | the sender leaves the group; the link closes                  |
 * | `K`                                     | keep-alive, sent on a link that was quiet for a while         |
 *
 * @module
 */

import { type Endpoint, formatEndpoint, parseAddress, parseEndpoint } from "../../plumi/address.ts";
import { encodeFrame, splitUtf8 } from "../../pmi/frame.ts";
import { isSecretText } from "./capability.ts";

/** The PMI frame type that carries group records. */
export const GROUP_FRAME_TYPE = "G";

/** Longest record a receiver accepts, in bytes (about 42 `G` frames). */
export const MAX_RECORD_BYTES = 4096;

/** Longest text of one group line, in bytes; a longer typed line goes out as several lines. */
export const MAX_GROUP_TEXT_BYTES = 4000;

/** Bytes of record carried by one `G` frame (99 bytes of info minus the flag). */
const PIECE_BYTES = 98;

/** `<gid>`: a group's random identifier. */
export const GROUP_ID = /^[A-Za-z0-9]{4,16}$/;

/** `<name>`: a group's name, as typed after `/group`. */
export const GROUP_NAME = /^[A-Za-z0-9_.-]{1,32}$/;

/** `J`: sent first by the caller of a group link. */
export interface JoinRecord {
  readonly kind: "join";
  /** `invite`: the callee joins the group if not in it yet; `mesh`: a link between members. */
  readonly mode: "invite" | "mesh";
  readonly gid: string;
  readonly name: string;
  /** The caller's @MI address and group endpoint. */
  readonly address: string;
  readonly endpoint: Endpoint;
  /**
   * `invite`: the invitee's capability; `mesh`: the caller's own (`capability.ts`), as the 43
   * characters of URL-safe base64. Absent: no invitation (an older agent), refused.
   */
  readonly capability?: string;
  /** `invite` only: the group secret (43 characters of URL-safe base64). */
  readonly secret?: string;
}

/** Any group record. */
export type GroupRecord =
  | JoinRecord
  | { readonly kind: "welcome"; readonly address: string; readonly endpoint: Endpoint }
  | { readonly kind: "refuse"; readonly reason: string }
  | {
    readonly kind: "peer";
    readonly fresh: boolean;
    readonly address: string;
    readonly endpoint: Endpoint;
    readonly nick: string;
  }
  | {
    readonly kind: "relayed";
    readonly fresh: boolean;
    readonly rid: number;
    readonly address: string;
    readonly nick: string;
  }
  | { readonly kind: "unrelayed"; readonly rid: number; readonly lost: boolean }
  | { readonly kind: "line"; readonly seq: number; readonly text: string }
  | {
    readonly kind: "relayed-line";
    readonly rid: number;
    readonly seq: number;
    readonly text: string;
  }
  | { readonly kind: "quit" }
  | { readonly kind: "ping" }
  | { readonly kind: "unknown"; readonly verb: string };

/** The text of a record. */
export function formatRecord(record: GroupRecord): string {
  switch (record.kind) {
    case "join":
      return `J ${record.mode === "invite" ? "i" : "m"} ${record.gid} ${
        formatEndpoint(record.endpoint)
      } ${record.address} ${record.name}${record.capability ? ` ${record.capability}` : ""}${
        record.secret ? ` ${record.secret}` : ""
      }`;
    case "welcome":
      return `W ${formatEndpoint(record.endpoint)} ${record.address}`;
    case "refuse":
      return `X ${record.reason}`;
    case "peer":
      return `P ${record.fresh ? "n" : "o"} ${
        formatEndpoint(record.endpoint)
      } ${record.address} ${record.nick}`;
    case "relayed":
      return `A ${record.fresh ? "n" : "o"} ${record.rid} ${record.address} ${record.nick}`;
    case "unrelayed":
      return `D ${record.rid} ${record.lost ? "lost" : "left"}`;
    case "line":
      return `M ${record.seq} ${record.text}`;
    case "relayed-line":
      return `R ${record.rid} ${record.seq} ${record.text}`;
    case "quit":
      return "Q";
    case "ping":
      return "K";
    case "unknown":
      return record.verb;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encode a record as `G` frames, back to back.
 *
 * @example
 * ```ts
 * encodeRecord({ kind: "line", seq: 1, text: "hi" }); // bytes of "G07.M 1 hi"
 * ```
 */
export function encodeRecord(record: GroupRecord): Uint8Array {
  const pieces = splitUtf8(encoder.encode(formatRecord(record)), PIECE_BYTES);
  const frames = pieces.map((piece, i) => {
    const info = new Uint8Array(piece.length + 1);
    info[0] = i === pieces.length - 1 ? 0x2e : 0x2b; // "." last, "+" more
    info.set(piece, 1);
    return encodeFrame(GROUP_FRAME_TYPE, info);
  });
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const frame of frames) {
    out.set(frame, offset);
    offset += frame.length;
  }
  return out;
}

/** The result of decoding a record's text. */
export type RecordResult =
  | { readonly ok: true; readonly record: GroupRecord }
  | { readonly ok: false; readonly message: string };

function bad(message: string): RecordResult {
  return { ok: false, message };
}

function endpointField(text: string): Endpoint | undefined {
  const parsed = parseEndpoint(text);
  return parsed.ok ? parsed.value : undefined;
}

function addressField(text: string): string | undefined {
  return parseAddress(text).ok ? text : undefined;
}

function count(text: string, max: number): number | undefined {
  if (!/^[1-9]\d{0,15}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** Split `text` at its first `n` spaces: `n` fields and the rest (which may hold spaces). */
function fields(text: string, n: number): string[] | undefined {
  const out: string[] = [];
  let rest = text;
  for (let i = 0; i < n; i++) {
    const space = rest.indexOf(" ");
    if (space < 0) return undefined;
    out.push(rest.slice(0, space));
    rest = rest.slice(space + 1);
  }
  out.push(rest);
  return out;
}

const MAX_RID = 65_535;

/**
 * Decode a record's text. A verb this version does not know decodes as
 * `unknown` (to be ignored, so later versions may add records); a known verb
 * with bad fields is an error.
 */
export function decodeRecord(text: string): RecordResult {
  const verb = text.slice(0, 1);
  if (text.length > 1 && text[1] !== " ") return { ok: true, record: { kind: "unknown", verb } };
  switch (verb) {
    case "J": {
      const f = fields(text, 5);
      const endpoint = f && endpointField(f[3]!);
      const address = f && addressField(f[4]!);
      if (!f || (f[1] !== "i" && f[1] !== "m") || !GROUP_ID.test(f[2]!) || !endpoint || !address) {
        return bad(`bad join record "${text.slice(0, 60)}"`);
      }
      const [name, capability, secret, ...more] = f[5]!.split(" ");
      if (!GROUP_NAME.test(name!)) return bad(`bad group name "${f[5]!.slice(0, 40)}"`);
      const mode = f[1] === "i" ? "invite" : "mesh";
      const tokens = [capability, secret].filter((t) => t !== undefined);
      if (
        more.length > 0 || !tokens.every(isSecretText) ||
        (mode === "mesh" && secret !== undefined)
      ) {
        return bad(`bad capability in join record "${text.slice(0, 60)}"`);
      }
      return {
        ok: true,
        record: {
          kind: "join",
          mode,
          gid: f[2]!,
          name: name!,
          address,
          endpoint,
          ...(capability !== undefined && { capability }),
          ...(secret !== undefined && { secret }),
        },
      };
    }
    case "W": {
      const f = fields(text, 2);
      const endpoint = f && endpointField(f[1]!);
      const address = f && addressField(f[2]!);
      if (!endpoint || !address) return bad(`bad welcome record "${text.slice(0, 60)}"`);
      return { ok: true, record: { kind: "welcome", address, endpoint } };
    }
    case "X":
      return { ok: true, record: { kind: "refuse", reason: text.slice(2) } };
    case "P": {
      const f = fields(text, 4);
      const endpoint = f && endpointField(f[2]!);
      const address = f && addressField(f[3]!);
      if (!f || (f[1] !== "o" && f[1] !== "n") || !endpoint || !address) {
        return bad(`bad member record "${text.slice(0, 60)}"`);
      }
      return {
        ok: true,
        record: { kind: "peer", fresh: f[1] === "n", address, endpoint, nick: f[4]! },
      };
    }
    case "A": {
      const f = fields(text, 4);
      const rid = f && count(f[2]!, MAX_RID);
      const address = f && addressField(f[3]!);
      if (!f || (f[1] !== "o" && f[1] !== "n") || !rid || !address) {
        return bad(`bad relayed-member record "${text.slice(0, 60)}"`);
      }
      return {
        ok: true,
        record: { kind: "relayed", fresh: f[1] === "n", rid, address, nick: f[4]! },
      };
    }
    case "D": {
      const f = fields(text, 2);
      const rid = f && count(f[1]!, MAX_RID);
      if (!f || !rid || (f[2] !== "left" && f[2] !== "lost")) {
        return bad(`bad relayed-member record "${text.slice(0, 60)}"`);
      }
      return { ok: true, record: { kind: "unrelayed", rid, lost: f[2] === "lost" } };
    }
    case "M": {
      const f = fields(text, 2);
      const seq = f && count(f[1]!, Number.MAX_SAFE_INTEGER);
      if (!f || !seq) return bad(`bad line record "${text.slice(0, 60)}"`);
      return { ok: true, record: { kind: "line", seq, text: f[2]! } };
    }
    case "R": {
      const f = fields(text, 3);
      const rid = f && count(f[1]!, MAX_RID);
      const seq = f && count(f[2]!, Number.MAX_SAFE_INTEGER);
      if (!f || !rid || !seq) return bad(`bad relayed-line record "${text.slice(0, 60)}"`);
      return { ok: true, record: { kind: "relayed-line", rid, seq, text: f[3]! } };
    }
    case "Q":
      return { ok: true, record: { kind: "quit" } };
    case "K":
      return { ok: true, record: { kind: "ping" } };
    case "":
      return bad("empty record");
    default:
      return { ok: true, record: { kind: "unknown", verb } };
  }
}

/** What {@linkcode RecordAssembler.push} makes of one `G` frame. */
export type AssembleResult =
  | { readonly kind: "more" }
  | { readonly kind: "record"; readonly result: RecordResult }
  | { readonly kind: "error"; readonly message: string; readonly overflow: boolean };

/** Joins the pieces of records from consecutive `G` frames, never holding more than the limit. */
export class RecordAssembler {
  readonly #max: number;
  #parts: Uint8Array[] = [];
  #size = 0;

  constructor(maxBytes = MAX_RECORD_BYTES) {
    this.#max = maxBytes;
  }

  /** Feed the info of the next `G` frame. */
  push(info: Uint8Array): AssembleResult {
    const flag = info[0];
    if (flag !== 0x2b && flag !== 0x2e) {
      return { kind: "error", message: "G frame without a continuation flag", overflow: false };
    }
    this.#size += info.length - 1;
    if (this.#size > this.#max) {
      return {
        kind: "error",
        message: `group record longer than ${this.#max} bytes`,
        overflow: true,
      };
    }
    this.#parts.push(info.subarray(1));
    if (flag === 0x2b) return { kind: "more" };
    const bytes = new Uint8Array(this.#size);
    let offset = 0;
    for (const part of this.#parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    this.#parts = [];
    this.#size = 0;
    return { kind: "record", result: decodeRecord(decoder.decode(bytes)) };
  }
}

/** Split a typed line into texts of at most {@linkcode MAX_GROUP_TEXT_BYTES}, at character boundaries. */
export function splitGroupText(text: string): string[] {
  return splitUtf8(encoder.encode(text), MAX_GROUP_TEXT_BYTES).map((b) => decoder.decode(b));
}
