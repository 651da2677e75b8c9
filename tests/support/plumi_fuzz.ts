/**
 * Generated and mutated PLUMI datagrams, seeded. Shared by the hardening
 * tests (`tests/fuzz_node_test.ts`) and the long-running fuzzer
 * (`scripts/fuzz.ts`); what a decoding must satisfy is in `plumi_check.ts`.
 * Pure: no I/O.
 *
 * The generator knows the whole of PLUMI, extensions included (`PK`…`RP`,
 * `;`-parameters, extra `RL` fields, the 100- and 512-byte limits), so that
 * its mutations reach the deep branches of the decoder rather than stopping
 * at the first byte. What it knows of the extensions comes from their
 * definitions (`lib/plumi/extensions/`): the letters, each message's fields
 * and the kind of value each holds, and the examples it starts from. A new
 * message is fuzzed as soon as it is defined.
 *
 * @module
 */

import {
  BUDDY_STATES,
  EXTENSION_TYPES,
  EXTENSIONS,
  type Field,
  type FieldKind,
  formatPlumi,
  MAX_EXTENDED_PACKET_BYTES,
  MAX_PACKET_BYTES,
  type PlumiMessage,
  V2,
  V2_MESSAGES,
} from "../../lib/plumi/mod.ts";

// --- Seeded randomness --------------------------------------------------------

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same datagrams. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** `length` random bytes. */
  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }
}

/** A fresh random 32-bit seed. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

// --- Bytes and text -------------------------------------------------------------

/** Text to bytes, one byte per character (latin1): PLUMI is ASCII, and test text may hold any byte. */
export function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Bytes to text, one character per byte. */
export function fromLatin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += String.fromCharCode(bytes[i]!);
  return out;
}

/** Bytes as lower-case hex (the corpus format). */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += bytes[i]!.toString(16).padStart(2, "0");
  return out;
}

/** Hex to bytes; throws `SyntaxError` on anything else. */
export function fromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new SyntaxError(`not hex: "${hex.slice(0, 40)}"`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// --- What the generator says ------------------------------------------------------

/** The names and domains a generator draws from: the target node's, so that datagrams mean something to it. */
export interface Vocabulary {
  /** User names (a node's users, and some it does not have). */
  readonly names: readonly string[];
  /** Domains (the node's own, one in its static map, unknown ones). */
  readonly domains: readonly string[];
}

/** A vocabulary of no particular node. */
export const DEFAULT_VOCABULARY: Vocabulary = {
  names: ["u1", "u2", "laura", "joan", ".lumi-probe", "x", "A~!'+", "9"],
  domains: ["PC-c", "PC-d", "bb.com", "cc.com", "BB.COM.", "a.b.c.d", "x_y-z.example"],
};

const NAME_CHARS = "abcxyzLUMI019._-+!~'\"#$%&()*,/<=>?[\\]^`{|}";
const DOMAIN_CHARS = "abcPCd019-_";
/** Every field of every extension message. */
const FIELDS: readonly Field<unknown>[] = V2_MESSAGES.flatMap((m) => m.fields);
/** Every parameter key the extensions define, and `v`. */
const PARAM_KEYS = [...new Set(["v", ...FIELDS.map((f) => f.key)])];

function randomString(random: Random, chars: string, min: number, max: number): string {
  let out = "";
  const length = min + random.int(max - min + 1);
  for (let i = 0; i < length; i++) out += chars[random.int(chars.length)];
  return out;
}

function randomLabel(random: Random, min: number, max: number): string {
  const label = randomString(random, DOMAIN_CHARS, min, max);
  return label.startsWith("-") ? `x${label.slice(1)}` : label;
}

function randomDomain(random: Random, vocabulary: Vocabulary): string {
  if (random.chance(0.6)) return random.pick(vocabulary.domains);
  switch (random.int(4)) {
    case 0: // a label at the 63-character limit
      return `${randomLabel(random, 62, 63)}.${randomLabel(random, 1, 3)}`;
    case 1: // many short labels
      return Array.from({ length: 2 + random.int(12) }, () => randomLabel(random, 1, 3)).join(".");
    default:
      return Array.from({ length: 1 + random.int(3) }, () => randomLabel(random, 1, 8)).join(".") +
        (random.chance(0.1) ? "." : "");
  }
}

function randomName(random: Random, vocabulary: Vocabulary): string {
  if (random.chance(0.6)) return random.pick(vocabulary.names);
  if (random.chance(0.1)) return randomString(random, NAME_CHARS, 63, 64); // at the limit
  return randomString(random, NAME_CHARS, 1, 10);
}

function randomAddress(random: Random, vocabulary: Vocabulary): string {
  return `${randomName(random, vocabulary)}@${randomDomain(random, vocabulary)}`;
}

const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Random URL-safe base64 (no padding) of `bytes` bytes, as the extensions carry binary values. */
function base64url(random: Random, bytes: number): string {
  return randomString(random, BASE64URL, Math.ceil(bytes * 4 / 3), Math.ceil(bytes * 4 / 3));
}

type ValueMaker = (random: Random, field: Field<unknown>, vocabulary: Vocabulary) => string;

function randomPort(random: Random): string {
  return random.chance(0.8) ? String(1 + random.int(65535)) : random.pick(["0", "65536", "01", ""]);
}

/**
 * A value of each kind of field, valid or just off (too long, out of range,
 * another shape): every kind the definitions use must have one, so a field
 * of a new kind does not type-check here until the fuzzer can make it.
 */
const VALUES: Record<FieldKind, ValueMaker> = {
  token: (random) => base64url(random, random.pick([16, 16, 16, 0.75, 49])),
  base64: (random) => base64url(random, random.pick([16, 15, 32, 31, 33, 0.75, 97])),
  count: (random, field) =>
    random.chance(0.6)
      ? String(random.int(10 ** Math.min(9, field.max)))
      : random.pick(["600000", "100000", "99999", "6000000", "0", "-1", "1e9", "", "007"]),
  page: (random) =>
    random.pick([`${1 + random.int(5)}`, `${1 + random.int(3)}/${1 + random.int(3)}`, "0", "1.5"]),
  address: (random, _field, vocabulary) => randomAddress(random, vocabulary),
  endpoint: (random) => `${randomIp(random)}:${randomPort(random)}`,
  word: (random, field) =>
    random.chance(0.8)
      ? random.pick(field.words ?? [""])
      : random.pick(["", "ADD", "yes", "2", "unknown"]),
  flag: () => "",
  name: (random, _field, vocabulary) => random.chance(0.8) ? randomName(random, vocabulary) : "",
  mark: (random) => `${random.int(1000)}.${random.int(200)}.${random.int(1000)}`,
  entry: (random, _field, vocabulary) => {
    const state = random.pick([...BUDDY_STATES, "gone"]);
    const where = random.chance(0.5) ? `${randomIp(random)},${randomPort(random)}` : ",";
    const history = random.chance(0.3)
      ? `${random.int(20)},${random.pick(["on", "on.off.on", "busy.off", ""])},`
      : "";
    return `${state},${where},${history}${randomAddress(random, vocabulary)}`;
  },
  padding: (random) => "-".repeat(random.int(90)),
};

/** One parameter of `field`: `key=value`, or the bare key of a flag. */
function fieldParam(random: Random, field: Field<unknown>, vocabulary: Vocabulary): string {
  if (field.kind === "flag") return random.chance(0.9) ? field.key : `${field.key}=1`;
  return `${field.key}=${VALUES[field.kind](random, field, vocabulary)}`;
}

/** A parameter: mostly one of `fields` (a message's own), else any field, `v=2` or junk. */
function randomParam(
  random: Random,
  vocabulary: Vocabulary,
  fields: readonly Field<unknown>[] = FIELDS,
): string {
  const roll = random.int(12);
  if (roll === 0) return V2;
  if (roll <= 7 && fields.length > 0) return fieldParam(random, random.pick(fields), vocabulary);
  if (roll <= 9) return fieldParam(random, random.pick(FIELDS), vocabulary);
  return `${random.pick(PARAM_KEYS)}${
    random.chance(0.7) ? `=${randomString(random, "ab=@:.,/ 019", 1, 8)}` : ""
  }`;
}

function randomParams(
  random: Random,
  vocabulary: Vocabulary,
  fields?: readonly Field<unknown>[],
): string[] {
  if (random.chance(0.35)) return [];
  const params: string[] = [];
  for (let n = 1 + random.int(4); n > 0; n--) params.push(randomParam(random, vocabulary, fields));
  return params;
}

const OCTETS = [0, 1, 9, 10, 99, 100, 127, 255];

function randomOctet(random: Random): number {
  return random.chance(0.5) ? random.pick(OCTETS) : random.int(256);
}

function randomIp(random: Random): string {
  return `${randomOctet(random)}.${randomOctet(random)}.${randomOctet(random)}.${
    randomOctet(random)
  }`;
}

const PORTS = [1, 3344, 65535];

/** A well-formed PLUMI message of any kind, extensions included. */
export function randomMessage(random: Random, vocabulary: Vocabulary): PlumiMessage {
  switch (random.int(10)) {
    case 0:
      return {
        kind: "register",
        address: randomAddress(random, vocabulary),
        params: randomParams(random, vocabulary),
      };
    case 1:
      return {
        kind: "deregister",
        address: randomAddress(random, vocabulary),
        params: randomParams(random, vocabulary),
      };
    case 2:
      return {
        kind: random.pick(["register-reply", "deregister-reply"] as const),
        code: random.pick([0, 1] as const),
        params: randomParams(random, vocabulary),
      };
    case 3:
    case 4:
      return {
        kind: "lookup",
        from: randomAddress(random, vocabulary),
        to: randomAddress(random, vocabulary),
      };
    case 5: {
      const code = random.pick([0, 1, 2, 3] as const);
      const withEndpoint = code === 0 || random.chance(0.3);
      return {
        kind: "lookup-reply",
        code,
        from: randomAddress(random, vocabulary),
        to: randomAddress(random, vocabulary),
        ...(withEndpoint && {
          endpoint: {
            ip: randomIp(random),
            port: random.chance(0.3) ? random.pick(PORTS) : 1 + random.int(65535),
          },
        }),
        extra: withEndpoint && random.chance(0.3)
          ? Array.from({ length: 1 + random.int(3) }, () => randomString(random, "v=2f ;@", 0, 5))
          : [],
      };
    }
    case 6:
    case 7:
    case 8: {
      const type = random.pick(EXTENSION_TYPES);
      return {
        kind: "ext-request",
        type,
        address: randomAddress(random, vocabulary),
        params: randomParams(random, vocabulary, EXTENSIONS[type].fields),
      };
    }
    default: {
      const type = random.pick(EXTENSION_TYPES);
      return {
        kind: "ext-reply",
        type,
        code: random.int(10),
        params: randomParams(random, vocabulary, EXTENSIONS[type].fields),
      };
    }
  }
}

/**
 * Packets of the reference exchange and the examples of every extension
 * message's definition: the mutator's starting points.
 */
export const SEED_PACKETS: readonly string[] = [
  "PRu1@PC-c",
  "RR0",
  "RR1",
  "PLu1@PC-c:u2@PC-d",
  "RL0u1@PC-c:u2@PC-d:10.100.100.102:43038",
  "RL1u1@PC-c:u2@PC-d",
  "RL2u1@PC-c:u2@PC-d",
  "RL3u1@PC-c:u2@PC-d",
  "PDu1@PC-c",
  "RD0",
  "RD1",
  "RL0laura@bb.com:jordi@cc.org:127.0.0.1:3344:v=2",
  ...V2_MESSAGES.flatMap((m) => m.examples),
];

/** What a mutator knows of the syntax, to reach past the first checks. */
const GRAMMAR_CHARS = `PRLD${EXTENSION_TYPES.join("")}0123456789@:;.-_=,${
  [...new Set(PARAM_KEYS.join(""))].join("")
} `;
const TOKENS = [
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
  "..",
  "-",
  " ",
  "=",
  "v=2",
  ";v=2",
  "m=",
  "256",
  "65535",
  "65536",
  "0.0.0.0",
  "RL0",
  "PL",
  ...EXTENSION_TYPES.flatMap((l) => [`P${l}`, `R${l}0`, `R${l}4`]),
  ...PARAM_KEYS.map((k) => `;${k}=`),
  "\x00",
  "\x7f",
  "\xff",
  "\xc3\xa0",
];
const SEPARATORS = ":;@.=,";

/**
 * One to three mutations of a datagram held as latin1 text (one character
 * per byte, which V8 slices and joins far faster than typed arrays): bit flip,
 * byte insert, delete or replace, truncation, slice duplication, splicing with
 * `donor`, grammar token insert (anywhere or at a field start), padding to a
 * size limit.
 */
export function mutate(random: Random, input: string, donor: string): string {
  let data = input;
  const rounds = 1 + random.int(3);
  for (let r = 0; r < rounds; r++) {
    const at = random.int(data.length + 1);
    const char = random.chance(0.7)
      ? GRAMMAR_CHARS[random.int(GRAMMAR_CHARS.length)]!
      : String.fromCharCode(random.int(256));
    switch (random.int(10)) {
      case 0:
        if (data.length > 0) {
          const i = at % data.length;
          const flipped = String.fromCharCode(data.charCodeAt(i) ^ (1 << random.int(8)));
          data = data.slice(0, i) + flipped + data.slice(i + 1);
        }
        break;
      case 1:
        data = data.slice(0, at) + char + data.slice(at);
        break;
      case 2:
        data = data.slice(0, at) + data.slice(at + 1);
        break;
      case 3:
        if (data.length > 0) {
          const i = at % data.length;
          data = data.slice(0, i) + char + data.slice(i + 1);
        }
        break;
      case 4:
        data = data.slice(0, at);
        break;
      case 5: {
        const end = at + random.int(data.length - at + 1);
        data = data.slice(0, end) + data.slice(at, end) + data.slice(end);
        break;
      }
      case 6: {
        const cut = random.int(donor.length + 1);
        data = random.chance(0.5)
          ? data.slice(0, at) + donor.slice(cut)
          : donor.slice(0, cut) + data.slice(at);
        break;
      }
      case 7:
        data = data.slice(0, at) + random.pick(TOKENS) + data.slice(at);
        break;
      case 8: {
        const starts: number[] = [];
        for (let i = 1; i <= data.length; i++) {
          if (SEPARATORS.includes(data[i - 1]!)) starts.push(i);
        }
        const start = starts.length > 0 ? random.pick(starts) : at;
        data = data.slice(0, start) + random.pick(TOKENS) + data.slice(start);
        break;
      }
      case 9: // pad (or cut) to just around a size limit
        data = toSize(data, random.pick(LIMIT_SIZES) + random.int(3) - 1, random);
        break;
    }
  }
  return data;
}

/** Every packet type, the extensions' by their definitions. */
const PACKET_TYPES = [
  "PR",
  "PD",
  "PL",
  "RR",
  "RD",
  "RL",
  ...EXTENSION_TYPES.flatMap((l) => [`P${l}`, `R${l}`]),
];

/** Sizes where the decoder's behaviour changes. */
const LIMIT_SIZES = [MAX_PACKET_BYTES, MAX_EXTENDED_PACKET_BYTES, 1, 2, 3];
const DASHES = "-".repeat(MAX_EXTENDED_PACKET_BYTES + 8);

/** `data` cut or padded (with `;x=-…` or `-…`) to `size` bytes. */
function toSize(data: string, size: number, random: Random): string {
  if (size <= data.length) return data.slice(0, Math.max(0, size));
  const pad = random.chance(0.5) ? `;x=${DASHES}` : DASHES;
  return data + pad.slice(0, size - data.length);
}

/** `length` random bytes as latin1 text. */
function noise(random: Random, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += String.fromCharCode(random.int(256));
  return out;
}

/** Options of {@linkcode PlumiFuzzer}. */
export interface FuzzerOptions {
  /** Names and domains to use. Default: {@linkcode DEFAULT_VOCABULARY}. */
  readonly vocabulary?: Vocabulary;
  /** Largest datagram generated as noise; some go past the 512-byte limit. Default: 600. */
  readonly maxNoiseBytes?: number;
  /** Chance of a datagram of several KB (up to 65,507 bytes, the UDP maximum). Default: 0.0005. */
  readonly hugeChance?: number;
}

/** Produces an endless, seeded stream of generated and mutated datagrams. */
export class PlumiFuzzer {
  readonly random: Random;
  readonly #vocabulary: Vocabulary;
  readonly #maxNoise: number;
  readonly #huge: number;

  constructor(seed: number, options: FuzzerOptions = {}) {
    this.random = new Random(seed);
    this.#vocabulary = options.vocabulary ?? DEFAULT_VOCABULARY;
    this.#maxNoise = options.maxNoiseBytes ?? 600;
    this.#huge = options.hugeChance ?? 0.0005;
  }

  /** A generated, valid message. */
  message(): PlumiMessage {
    return randomMessage(this.random, this.#vocabulary);
  }

  /** The next datagram, as latin1 text (one character per byte). */
  nextText(): string {
    const random = this.random;
    if (random.chance(this.#huge)) return noise(random, 1_000 + random.int(64_508));
    const mode = random.int(20);
    if (mode === 0) return noise(random, random.int(this.#maxNoise + 1)); // any byte
    if (mode === 1) { // printable noise after a known type
      const type = random.pick(PACKET_TYPES);
      return type + randomString(random, "ab@:;.019-=, PRL", 0, 60);
    }
    if (mode <= 6) { // a valid message, sometimes at a size limit
      const text = formatPlumi(this.message());
      return random.chance(0.15) ? toSize(text, random.pick(LIMIT_SIZES), random) : text;
    }
    if (mode <= 11) { // a mutated valid message
      return mutate(random, formatPlumi(this.message()), random.pick(SEED_PACKETS));
    }
    return mutate(random, random.pick(SEED_PACKETS), random.pick(SEED_PACKETS)); // an example packet
  }

  /** The next datagram. */
  next(): Uint8Array {
    return latin1(this.nextText());
  }
}
