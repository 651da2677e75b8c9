/**
 * Fuzz tests of the pure codecs: random and mutated PLUMI datagrams and PMI
 * byte streams. Needs no permissions. The seed is printed; set FUZZ_SEED (and
 * run with --allow-env=FUZZ_SEED) to replay a failure.
 *
 * @module
 */

import { deepStrictEqual, ok } from "#assert";
import { Random, SEED_PACKETS } from "./support/plumi_fuzz.ts";
import {
  decodePlumi,
  type DecodeResult,
  encodePlumi,
  EXTENSION_TYPES,
  formatPlumi,
  type PlumiErrorKind,
  type PlumiMessage,
  printable,
} from "../lib/plumi/mod.ts";
import {
  encodeFrame,
  encodeLine,
  encodeNick,
  PmiDecoder,
  type PmiErrorKind,
  type PmiFrame,
  splitUtf8,
} from "../lib/pmi/mod.ts";

const PLUMI_CASES = 100_000;
const PMI_CASES = 100_000;

// --- Seeded randomness --------------------------------------------------------

function readSeed(): number {
  const granted = Deno.permissions.querySync({ name: "env", variable: "FUZZ_SEED" }).state ===
    "granted";
  const text = granted ? Deno.env.get("FUZZ_SEED") : undefined;
  if (text !== undefined && /^\d+$/.test(text)) return Number(text) >>> 0;
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

const SEED = readSeed();
console.log(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} deno test --allow-env=FUZZ_SEED …)`);

// --- Mutations shared by both codecs ---------------------------------------------

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** What a mutator knows of a syntax, to reach past the first checks of a decoder. */
interface Grammar {
  /** Bytes that mean something (types, digits, separators); most inserted bytes are these. */
  readonly bytes: Uint8Array;
  /** Short tokens to insert whole. */
  readonly tokens: readonly Uint8Array[];
  /** Bytes after which the next field starts: tokens are often put right there. */
  readonly separators: Uint8Array;
}

/**
 * Apply one to three mutations: bit flip, byte insert, delete or replace,
 * truncation, duplication of a slice, splicing with `donor`, and insertion of a
 * grammar token anywhere or at the start of a field.
 */
function mutate(
  random: Random,
  input: Uint8Array,
  donor: Uint8Array,
  grammar: Grammar,
): Uint8Array {
  let data: Uint8Array = input.slice();
  const rounds = 1 + random.int(3);
  for (let r = 0; r < rounds; r++) {
    const at = random.int(data.length + 1);
    const byte = random.chance(0.7)
      ? grammar.bytes[random.int(grammar.bytes.length)]!
      : random.int(256);
    switch (random.int(9)) {
      case 0: // bit flip
        if (data.length > 0) data[at % data.length]! ^= 1 << random.int(8);
        break;
      case 1: // byte insert
        data = concat([data.subarray(0, at), new Uint8Array([byte]), data.subarray(at)]);
        break;
      case 2: // byte delete
        data = concat([data.subarray(0, at), data.subarray(at + 1)]);
        break;
      case 3: // byte replace
        if (data.length > 0) data[at % data.length] = byte;
        break;
      case 4: // truncation
        data = data.slice(0, at);
        break;
      case 5: { // duplication of a slice
        const end = at + random.int(data.length - at + 1);
        data = concat([data.subarray(0, end), data.subarray(at, end), data.subarray(end)]);
        break;
      }
      case 6: { // splicing with another valid input
        const cut = random.int(donor.length + 1);
        data = random.chance(0.5)
          ? concat([data.subarray(0, at), donor.subarray(cut)])
          : concat([donor.subarray(0, cut), data.subarray(at)]);
        break;
      }
      case 7: // token insert
        data = concat([data.subarray(0, at), random.pick(grammar.tokens), data.subarray(at)]);
        break;
      case 8: { // token insert at the start of a field
        const starts: number[] = [];
        for (let i = 1; i <= data.length; i++) {
          if (grammar.separators.includes(data[i - 1]!)) starts.push(i);
        }
        const start = starts.length > 0 ? random.pick(starts) : at;
        data = concat([data.subarray(0, start), random.pick(grammar.tokens), data.subarray(start)]);
        break;
      }
    }
  }
  return data;
}

// --- Cheap assertions for hot loops ---------------------------------------------
// node's deepStrictEqual and eager template messages dominate the run time, so
// the loops compare with these and only build a message (and a diff) on failure.

function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) {
      return false;
    }
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  return ka.every((k) => Object.hasOwn(rb, k) && equal(ra[k], rb[k]));
}

/** Assert deep equality; `context` is only computed on failure. */
function same(actual: unknown, expected: unknown, context: () => string): void {
  if (!equal(actual, expected)) deepStrictEqual(actual, expected, context());
}

/** Assert `condition`; `context` is only computed on failure. */
function check(condition: boolean, context: () => string): asserts condition {
  if (!condition) throw new Error(context());
}

// --- PLUMI ----------------------------------------------------------------------

const encoder = new TextEncoder();
const NAME_CHARS = "abcxyzLUMI019._-+!~'";
const DOMAIN_CHARS = "abcPCd019-_";

/** `min` to `max` characters (code points, not UTF-16 units) drawn from `chars`. */
function randomString(random: Random, chars: string, min: number, max: number): string {
  const list = [...chars];
  let out = "";
  const length = min + random.int(max - min + 1);
  for (let i = 0; i < length; i++) out += list[random.int(list.length)];
  return out;
}

function randomAddress(random: Random): string {
  const labels = 1 + random.int(3);
  const domain = Array.from({ length: labels }, () => randomString(random, DOMAIN_CHARS, 1, 6))
    .map((label) => (label.startsWith("-") ? `x${label}` : label)).join(".");
  return `${randomString(random, NAME_CHARS, 1, 8)}@${domain}${random.chance(0.05) ? "." : ""}`;
}

function randomParams(random: Random): string[] {
  if (random.chance(0.6)) return [];
  return Array.from({ length: 1 + random.int(3) }, () => randomString(random, "v=2hbk,x ", 1, 5));
}

function randomMessage(random: Random): PlumiMessage {
  switch (random.int(6)) {
    case 0:
      return { kind: "register", address: randomAddress(random), params: randomParams(random) };
    case 1:
      return { kind: "deregister", address: randomAddress(random), params: randomParams(random) };
    case 2:
      return { kind: "register-reply", code: random.pick([0, 1]), params: randomParams(random) };
    case 3:
      return { kind: "deregister-reply", code: random.pick([0, 1]), params: randomParams(random) };
    case 4:
      return { kind: "lookup", from: randomAddress(random), to: randomAddress(random) };
    default: {
      const code = random.pick([0, 1, 2, 3] as const);
      const withEndpoint = code === 0 || random.chance(0.3);
      const extra = withEndpoint && random.chance(0.3)
        ? Array.from({ length: 1 + random.int(2) }, () => randomString(random, "v=2f ;", 0, 4))
        : [];
      return {
        kind: "lookup-reply",
        code,
        from: randomAddress(random),
        to: randomAddress(random),
        ...(withEndpoint
          ? {
            endpoint: {
              ip: Array.from({ length: 4 }, () => random.int(256)).join("."),
              port: 1 + random.int(random.pick([9, 99, 999, 9999, 65535])),
            },
          }
          : {}),
        extra,
      };
    }
  }
}

/** The mutator's starting points: the reference exchange and the extensions' examples. */
const SEEDS = SEED_PACKETS.map((text) => encoder.encode(text));

const PLUMI_GRAMMAR: Grammar = {
  bytes: encoder.encode("PRLD0123456789@:;.-_=vx "),
  tokens: [
    "0",
    "00",
    "1",
    "9",
    ":",
    "::",
    ";",
    ";;",
    "@",
    "@@",
    ".",
    "-",
    " ",
    "256",
    "65535",
    "65536",
    "RL0",
  ]
    .map((t) => encoder.encode(t)),
  separators: encoder.encode(":;@."),
};

const PLUMI_KINDS: Record<PlumiErrorKind, true> = {
  "empty": true,
  "too-long": true,
  "non-ascii": true,
  "unknown-type": true,
  "missing-at": true,
  "missing-colon": true,
  "bad-name": true,
  "bad-domain": true,
  "bad-code": true,
  "missing-endpoint": true,
  "bad-ip": true,
  "bad-port": true,
  "trailing-data": true,
};

/**
 * The text a valid datagram must re-encode to. The codec drops empty
 * parameters (`;;`, a trailing `;`) of PR, PD, RR and RD; everything else is
 * kept byte for byte.
 */
function canonicalPlumi(text: string): string {
  const type = text.slice(0, 2);
  const semi = text.indexOf(";");
  const withParams = ["PR", "PD", "RR", "RD"].includes(type) ||
    (new RegExp(`^[PR][${EXTENSION_TYPES.join("")}]$`).test(type));
  if (!withParams || semi < 0) return text;
  const params = text.slice(semi + 1).split(";").filter((p) => p !== "");
  return text.slice(0, semi) + params.map((p) => `;${p}`).join("");
}

function checkPlumi(data: Uint8Array, stats: Map<string, number>): void {
  const where = (what: string) => () => `${what} (seed ${SEED}, datagram "${printable(data)}")`;
  let result: DecodeResult;
  try {
    result = decodePlumi(data);
  } catch (error) {
    throw new Error(where("decodePlumi threw")(), { cause: error });
  }
  if (!result.ok) {
    check(
      Object.hasOwn(PLUMI_KINDS, result.error.kind),
      where(`unknown kind ${result.error.kind}`),
    );
    check(result.error.message.length > 0, where("empty error message"));
    stats.set(result.error.kind, (stats.get(result.error.kind) ?? 0) + 1);
    return;
  }
  stats.set("ok", (stats.get("ok") ?? 0) + 1);
  // Valid datagrams are printable ASCII, so latin1 text and bytes match one to one.
  const text = String.fromCharCode(...data);
  const again = encodePlumi(result.message);
  same(String.fromCharCode(...again), canonicalPlumi(text), where("re-encoding differs"));
  const redecoded = decodePlumi(again);
  check(redecoded.ok, where("re-encoded datagram rejected"));
  same(redecoded.message, result.message, where("decoding is not stable"));
}

Deno.test(`PLUMI decoder survives ${PLUMI_CASES} random and mutated datagrams`, () => {
  const random = new Random(SEED);
  const stats = new Map<string, number>();
  const started = performance.now();
  for (let i = 0; i < PLUMI_CASES; i++) {
    const mode = random.int(10);
    let data: Uint8Array;
    if (mode === 0) {
      data = random.bytes(random.int(110)); // pure noise, any byte
    } else if (mode === 1) { // printable noise starting with a known type
      const type = random.pick(["PR", "PD", "PL", "RR", "RD", "RL"]);
      data = encoder.encode(type + randomString(random, "ab@:;.019-= PRL", 0, 40));
    } else if (mode <= 3) { // a generated valid message, checked exactly, sometimes mutated
      const message = randomMessage(random);
      const encoded = encodePlumi(message);
      if (encoded.length <= 100) {
        const decoded = decodePlumi(encoded);
        const where = () => `generated ${formatPlumi(message)} (seed ${SEED})`;
        check(decoded.ok, where);
        same(decoded.message, message, where);
      }
      data = mode === 2 ? encoded : mutate(random, encoded, random.pick(SEEDS), PLUMI_GRAMMAR);
    } else { // a mutated packet of the reference exchange
      data = mutate(random, random.pick(SEEDS), random.pick(SEEDS), PLUMI_GRAMMAR);
    }
    checkPlumi(data, stats);
  }
  const elapsed = performance.now() - started;
  console.log(
    `PLUMI: ${PLUMI_CASES} datagrams in ${elapsed.toFixed(0)} ms:`,
    Object.fromEntries([...stats].sort()),
  );
  // The fuzz must reach deep into the decoder, not stop at the first byte.
  ok((stats.get("ok") ?? 0) > PLUMI_CASES / 10, "too few valid datagrams");
  for (const kind of Object.keys(PLUMI_KINDS)) ok(stats.has(kind), `never produced ${kind}`);
});

// --- PMI ------------------------------------------------------------------------

const PMI_KINDS: Record<PmiErrorKind, true> = { "bad-type": true, "bad-length": true };
const PMI_GRAMMAR: Grammar = {
  bytes: encoder.encode("NLTAX0123456789"),
  tokens: ["N", "L", "T", "00", "01", "99", "L00", "N0", "L9", "\xc3", "\xf0\x9f"].map((t) =>
    Uint8Array.from(t, (c) => c.charCodeAt(0))
  ),
  separators: encoder.encode("NLTAX"),
};
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lossyUtf8 = new TextDecoder();

interface ReferenceFrame {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

/** A plain, non-streaming reading of the whole stream, to compare the decoder with. */
function referencePmi(data: Uint8Array, accepted: string) {
  const frames: ReferenceFrame[] = [];
  let i = 0;
  while (i < data.length) {
    if (!accepted.includes(String.fromCharCode(data[i]!))) {
      return { frames, error: { kind: "bad-type", offset: i } };
    }
    for (const k of [1, 2]) {
      if (i + k >= data.length) return { frames, pending: data.length - i };
      const digit = data[i + k]!;
      if (digit < 0x30 || digit > 0x39) {
        return { frames, error: { kind: "bad-length", offset: i + k } };
      }
    }
    const length = (data[i + 1]! - 0x30) * 10 + (data[i + 2]! - 0x30);
    if (i + 3 + length > data.length) return { frames, pending: data.length - i };
    frames.push({ type: String.fromCharCode(data[i]!), start: i + 3, end: i + 3 + length });
    i += 3 + length;
  }
  return { frames, pending: 0 };
}

function randomFrames(random: Random, extensions: string): Uint8Array {
  const parts: Uint8Array[] = [];
  const count = random.chance(0.05) ? 0 : 1 + random.int(5);
  for (let f = 0; f < count; f++) {
    const choice = random.int(10);
    if (choice < 2) parts.push(encodeNick(randomString(random, "Laurè😀 ", 0, 12)));
    else if (choice < 7) {
      const size = random.chance(0.1) ? random.int(200) : random.int(30);
      parts.push(encodeLine(randomString(random, "hola què😀 ", size, size)));
    } else if (choice < 9 && extensions !== "") {
      parts.push(encodeFrame(random.pick([...extensions]), random.bytes(random.int(20))));
    } else {
      parts.push(encodeFrame(random.pick(["N", "L"]), random.bytes(random.int(40))));
    }
  }
  return concat(parts);
}

function* splits(random: Random, data: Uint8Array): Generator<Uint8Array> {
  let i = 0;
  const max = random.pick([2, 8, 32, 128]);
  while (i < data.length) {
    const size = random.int(max + 1);
    yield data.subarray(i, i + size);
    i += size;
  }
}

function checkPmi(
  random: Random,
  data: Uint8Array,
  extensions: string,
  stats: Map<string, number>,
): void {
  const where = (what: string) => () =>
    `${what} (seed ${SEED}, extensions "${extensions}", stream "${printable(data, 400)}")`;
  const reference = referencePmi(data, `NL${extensions}`);
  const runs: Iterable<Uint8Array>[] = [[data], splits(random, data)];
  if (random.chance(0.1)) runs.push(data.length <= 400 ? splitsOfOne(data) : splits(random, data));
  let first: { frames: PmiFrame[]; error?: { kind: string; offset: number } } | undefined;
  for (const chunks of runs) {
    const decoder = new PmiDecoder({ extensionTypes: extensions });
    const frames: PmiFrame[] = [];
    let error;
    try {
      for (const chunk of chunks) {
        const pushed = decoder.push(chunk);
        frames.push(...pushed.frames);
        if (pushed.error) {
          error = pushed.error;
          break;
        }
      }
    } catch (thrown) {
      throw new Error(where("PmiDecoder threw")(), { cause: thrown });
    }
    if (error) {
      check(Object.hasOwn(PMI_KINDS, error.kind), where(`unknown kind ${error.kind}`));
      check(decoder.error === error, where("error getter"));
      const after = decoder.push(encodeLine("after"));
      check(after.frames.length === 0 && after.error === error, where("decoder revived"));
    } else {
      check(decoder.pendingBytes === reference.pending, where("pending bytes"));
    }
    const outcome = {
      frames,
      ...(error ? { error: { kind: error.kind, offset: error.offset } } : {}),
    };
    if (first === undefined) first = outcome;
    else same(outcome, first, where("result depends on the split"));
  }
  if (first === undefined) throw new Error("no decoding run");
  same(first.error, reference.error, where("error differs from the reference"));
  check(first.frames.length === reference.frames.length, where("frame count"));
  for (let f = 0; f < reference.frames.length; f++) {
    const want = reference.frames[f]!;
    const got = first.frames[f]!;
    const info = data.subarray(want.start, want.end);
    const wire = data.subarray(want.start - 3, want.end);
    if (got.kind === "extension") {
      check(want.type !== "N" && want.type !== "L", where("N or L read as extension"));
      same({ type: got.type, info: got.info }, { type: want.type, info }, where("extension"));
      same(encodeFrame(got.type, got.info), wire, where("extension re-encoding"));
      continue;
    }
    check(got.kind === (want.type === "N" ? "nick" : "line"), where("frame kind"));
    check(got.text === lossyUtf8.decode(info), where("frame text"));
    // Valid UTF-8 re-encodes to the very same frame; invalid bytes become U+FFFD.
    let valid = true;
    try {
      strictUtf8.decode(info);
    } catch {
      valid = false;
    }
    if (valid) same(encodeFrame(want.type, encoder.encode(got.text)), wire, where("re-encoding"));
  }
  const label = first.error ? first.error.kind : first.frames.length > 0 ? "ok" : "ok-empty";
  stats.set(label, (stats.get(label) ?? 0) + 1);
}

function* splitsOfOne(data: Uint8Array): Generator<Uint8Array> {
  for (let i = 0; i < data.length; i++) yield data.subarray(i, i + 1);
}

Deno.test(`PMI decoder survives ${PMI_CASES} random and mutated streams split anywhere`, () => {
  const random = new Random(SEED ^ 0x9e3779b9);
  const stats = new Map<string, number>();
  const started = performance.now();
  for (let i = 0; i < PMI_CASES; i++) {
    const extensions = random.chance(0.3) ? random.pick(["T", "TA", "X"]) : "";
    const mode = random.int(10);
    let data: Uint8Array;
    if (mode === 0) data = random.bytes(random.int(120));
    else if (mode <= 3) data = randomFrames(random, extensions);
    else {
      const valid = randomFrames(random, extensions);
      data = mutate(random, valid, randomFrames(random, extensions), PMI_GRAMMAR);
    }
    checkPmi(random, data, extensions, stats);
  }
  const elapsed = performance.now() - started;
  console.log(
    `PMI: ${PMI_CASES} streams in ${elapsed.toFixed(0)} ms:`,
    Object.fromEntries([...stats].sort()),
  );
  ok((stats.get("ok") ?? 0) > PMI_CASES / 10, "too few valid streams");
  for (const kind of Object.keys(PMI_KINDS)) ok(stats.has(kind), `never produced ${kind}`);
});

Deno.test("splitUtf8 terminates and loses nothing on random bytes", () => {
  const random = new Random(SEED ^ 0x85ebca6b);
  for (let i = 0; i < 10_000; i++) {
    const data = random.chance(0.5)
      ? random.bytes(random.int(400))
      : encoder.encode(randomString(random, "aé€😀", 0, 150));
    const max = 4 + random.int(120);
    const pieces = splitUtf8(data, max);
    const where = () => `splitUtf8 (seed ${SEED}, case ${i})`;
    check(pieces.length >= 1, where);
    for (const piece of pieces) check(piece.length <= max, where);
    same(concat(pieces), data, where);
  }
});
