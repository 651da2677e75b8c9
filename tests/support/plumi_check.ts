/**
 * The properties every decoding of a PLUMI datagram must have, and the
 * regression corpus (`tests/corpus/plumi.txt`) of datagrams that broke, or
 * could break, one of them. Shared by `tests/fuzz_node_test.ts` and
 * `scripts/fuzz.ts`. Pure: no I/O.
 *
 * @module
 */

import {
  decodePlumi,
  type DecodeResult,
  EXTENSION_TYPES,
  formatPlumi,
  isExtended,
  MAX_EXTENDED_PACKET_BYTES,
  MAX_PACKET_BYTES,
  type PlumiErrorKind,
  type PlumiMessage,
  printable,
} from "../../lib/plumi/mod.ts";
import { fromHex, fromLatin1, latin1, toHex } from "./plumi_fuzz.ts";

// --- Properties of a decoding -------------------------------------------------------

/** Every error kind the decoder may give. */
export const PLUMI_ERROR_KINDS: readonly PlumiErrorKind[] = [
  "empty",
  "too-long",
  "non-ascii",
  "unknown-type",
  "missing-at",
  "missing-colon",
  "bad-name",
  "bad-domain",
  "bad-code",
  "missing-endpoint",
  "bad-ip",
  "bad-port",
  "trailing-data",
];
const KNOWN_KINDS = new Set<string>(PLUMI_ERROR_KINDS);

/** The decoder options the fuzzer checks: an original peer's and an extended peer's. */
export const EXTENDED_OPTIONS = { maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES } as const;

/** A property of the decoder that a datagram broke. */
export class FuzzFailure extends Error {
  /** The datagram. */
  readonly datagram: Uint8Array;

  constructor(what: string, datagram: Uint8Array, options?: ErrorOptions) {
    super(`${what}: datagram ${toHex(datagram)} ("${printable(datagram, 200)}")`, options);
    this.name = "FuzzFailure";
    this.datagram = datagram;
  }
}

/**
 * The text a valid datagram must encode back to: the codec drops empty
 * parameters (`;;`, a trailing `;`) of PR, PD, RR, RD and the extension
 * types; everything else is kept byte for byte.
 */
export function canonicalText(text: string): string {
  const type = text.slice(0, 2);
  const semi = text.indexOf(";");
  const withParams = ["PR", "PD", "RR", "RD"].includes(type) ||
    new RegExp(`^[PR][${EXTENSION_TYPES}]$`).test(type);
  if (!withParams || semi < 0) return text;
  const params = text.slice(semi + 1).split(";").filter((p) => p !== "");
  return text.slice(0, semi) + params.map((p) => `;${p}`).join("");
}

/** Structural equality of decoded messages (plain objects, arrays, strings, numbers). */
function sameMessage(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameMessage(a[i], b[i])) return false;
    return true;
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const keys = Object.keys(ra);
  if (keys.length !== Object.keys(rb).length) return false;
  for (const key of keys) if (!sameMessage(ra[key], rb[key])) return false;
  return true;
}

/** A decoding's outcome in one word: `ok:<message kind>` or the error kind. */
export function outcome(result: DecodeResult): string {
  return result.ok ? `ok:${result.message.kind}` : result.error.kind;
}

function decodeOnce(data: Uint8Array, options?: typeof EXTENDED_OPTIONS): DecodeResult {
  let result: DecodeResult;
  try {
    result = decodePlumi(data, options);
  } catch (error) {
    throw new FuzzFailure("decodePlumi threw", data, { cause: error });
  }
  if (!result.ok) {
    if (!KNOWN_KINDS.has(result.error.kind)) {
      throw new FuzzFailure(`unknown error kind ${result.error.kind}`, data);
    }
    if (typeof result.error.message !== "string" || result.error.message === "") {
      throw new FuzzFailure("error without a message", data);
    }
  }
  return result;
}

/** The properties of a message decoded with the 512-byte limit. */
function checkMessage(data: Uint8Array, message: PlumiMessage): void {
  if (data.length > MAX_EXTENDED_PACKET_BYTES) {
    throw new FuzzFailure(`accepted past ${MAX_EXTENDED_PACKET_BYTES} bytes`, data);
  }
  if (data.length > MAX_PACKET_BYTES && !isExtended(message)) {
    throw new FuzzFailure("an original message accepted past 100 bytes", data);
  }
  // Valid datagrams are printable ASCII, so text and bytes match one to one.
  const again = formatPlumi(message);
  if (again !== canonicalText(fromLatin1(data))) {
    throw new FuzzFailure(`re-encodes to "${again}"`, data);
  }
  const redecoded = decodePlumi(latin1(again), EXTENDED_OPTIONS);
  if (!redecoded.ok || !sameMessage(redecoded.message, message)) {
    throw new FuzzFailure("decoding is not stable", data);
  }
}

/**
 * Decode `data` as an original peer does (100 bytes) and as an extended one
 * does (512), check every property, and return both outcomes. Throws
 * {@linkcode FuzzFailure}.
 *
 * Properties: the decoder never throws; an error has a known kind and a
 * message; a message re-encodes to the same bytes (up to empty parameters)
 * and decodes again to itself; nothing longer than the limit is accepted,
 * and past 100 bytes only extended messages; the two limits give the very
 * same result for 100 bytes or less, and the 100-byte one says `too-long`
 * past that.
 */
export function checkDatagram(data: Uint8Array): [original: DecodeResult, extended: DecodeResult] {
  const original = decodeOnce(data);
  const extended = decodeOnce(data, EXTENDED_OPTIONS);
  if (data.length <= MAX_PACKET_BYTES) {
    if (!sameMessage(original, extended)) {
      throw new FuzzFailure(
        `the 100- and 512-byte decoders disagree: ${outcome(original)} / ${outcome(extended)}`,
        data,
      );
    }
  } else if (original.ok || original.error.kind !== "too-long") {
    throw new FuzzFailure(`${data.length} bytes, yet ${outcome(original)} at 100`, data);
  }
  if (extended.ok) checkMessage(data, extended.message);
  return [original, extended];
}

// --- The regression corpus ----------------------------------------------------------

/** One case of `tests/corpus/plumi.txt`. */
export interface CorpusCase {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly datagram: Uint8Array;
  /** Expected outcome with the 100-byte decoder (see {@linkcode outcome}). */
  readonly original: string;
  /** Expected outcome with the 512-byte decoder. */
  readonly extended: string;
  /** Why the case is there. */
  readonly note: string;
}

/**
 * Parse the corpus: one case a line, `<original> <extended> <hex> # note`;
 * blank lines and lines starting with `#` are comments.
 */
export function parseCorpus(text: string): CorpusCase[] {
  const cases: CorpusCase[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = line.match(/^(\S+)\s+(\S+)\s+([0-9a-fA-F]*|-)\s*(?:#\s?(.*))?$/);
    if (!match) {
      throw new SyntaxError(`corpus line ${index + 1}: cannot read "${line.slice(0, 60)}"`);
    }
    cases.push({
      line: index + 1,
      original: match[1]!,
      extended: match[2]!,
      datagram: match[3] === "-" ? new Uint8Array(0) : fromHex(match[3]!),
      note: match[4] ?? "",
    });
  });
  return cases;
}

/**
 * One corpus line for `datagram`, with its current outcomes (`throws` if the
 * decoder throws: once that is fixed, the line's outcomes are to be updated).
 */
export function corpusLine(datagram: Uint8Array, note: string): string {
  const decode = (options?: typeof EXTENDED_OPTIONS) => {
    try {
      return outcome(decodePlumi(datagram, options));
    } catch {
      return "throws";
    }
  };
  const hex = datagram.length === 0 ? "-" : toHex(datagram);
  return `${decode()} ${decode(EXTENDED_OPTIONS)} ${hex} # ${note}`;
}
