/**
 * The parameters of the `v=2` extension messages (`key=value` after `;`),
 * each defined once as a {@linkcode Field}: its key, the kind of value it
 * holds, its longest value, how it is read and written. The message
 * definitions beside this file are built from these fields, and so is the
 * fuzzers' grammar (`kind`).
 *
 * Reading never throws: a value that does not fit its field is a typed
 * {@linkcode ExtDecodeError}. A field a message defines may appear once
 * (repeated: `repeated`); parameters a message does not define are ignored,
 * as docs/PROTOCOL.md says a receiver does.
 *
 * @module
 */

import { type Endpoint, formatEndpoint, parseAddress, parseEndpoint } from "../address.ts";

/** Why the parameters of an extension message do not decode. */
export const PARAM_PROBLEMS = [
  "missing",
  "repeated",
  "too-long",
  "malformed",
  "unknown-code",
] as const;

/** One of {@linkcode PARAM_PROBLEMS}. */
export type ParamProblem = typeof PARAM_PROBLEMS[number];

/** A decoding failure: what is wrong, with which parameter, in words for a log. */
export interface ExtDecodeError {
  /** What is wrong with it. */
  readonly problem: ParamProblem;
  /** The parameter's key (`t`, `b`, …), or `code` for the answer code. */
  readonly key: string;
  readonly message: string;
}

/** A decoded value, or why it is not one. */
export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: ExtDecodeError };

/** A decoding failure. */
export type Failed = { readonly ok: false; readonly error: ExtDecodeError };

/** A successful decoding. */
export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

/** A failed decoding. */
export function fail(problem: ParamProblem, key: string, message: string): Failed {
  return { ok: false, error: { problem, key, message } };
}

/**
 * What a field's value is, for the fuzzers' grammar (they generate values of
 * each kind, valid and hostile):
 * `token` / `base64` URL-safe base64; `count` a decimal number; `page` a
 * page number or `n/m`; `address` an @MI address; `endpoint` `ip:port`;
 * `word` one of a few words; `flag` a bare key; `name` a user name or empty;
 * `mark` an opaque short text; `entry` a buddy status entry; `padding` dashes.
 */
export type FieldKind =
  | "token"
  | "base64"
  | "count"
  | "page"
  | "address"
  | "endpoint"
  | "word"
  | "flag"
  | "name"
  | "mark"
  | "entry"
  | "padding";

/** One parameter: its key, what it holds, and how it is read and written. */
export interface Field<T> {
  /** The parameter's key: `t` in `t=…`. */
  readonly key: string;
  /** What its value is (for the fuzzers' grammar). */
  readonly kind: FieldKind;
  /** Longest value accepted, in characters. */
  readonly max: number;
  /** The words a `word` field may hold (and the errors an `e` field may). */
  readonly words?: readonly string[];
  /** Its value is a secret, never written to a log (`lib/plumi/secrets.ts`). */
  readonly secret?: boolean;
  /** Read a value (the text after `key=`). */
  read(text: string): Decoded<T>;
  /** The parameter `key=value` (or the bare `key` of a flag). */
  write(value: T): string;
}

function checked<T>(
  key: string,
  kind: FieldKind,
  max: number,
  parse: (text: string) => T | undefined,
  show: (value: T) => string,
  what: string,
  words?: readonly string[],
): Field<T> {
  return {
    key,
    kind,
    max,
    ...(words && { words }),
    read(text) {
      if (text.length > max) {
        return fail("too-long", key, `${key}= holds ${text.length} characters, at most ${max}`);
      }
      const value = parse(text);
      return value === undefined
        ? fail("malformed", key, `${key}= must be ${what}, not "${text.slice(0, 40)}"`)
        : ok(value);
    },
    write: (value) => `${key}=${show(value)}`,
  };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * A URL-safe base64 value without padding, at most `max` characters: binary
 * data (`base64`: a salt, a key, a proof, whose length must decode), or an
 * opaque secret compared as text (`token`).
 */
export function base64Field(
  key: string,
  max: number,
  kind: "token" | "base64" = "base64",
  secret = false,
): Field<string> {
  const field = checked<string>(
    key,
    kind,
    max,
    (t) => BASE64URL.test(t) && (kind === "token" || t.length % 4 !== 1) ? t : undefined,
    (v) => v,
    "URL-safe base64",
  );
  return secret ? { ...field, secret } : field;
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

/** A decimal number from `min` to `max` (no sign, no leading zero). */
export function countField(key: string, min: number, max: number): Field<number> {
  return checked<number>(
    key,
    "count",
    String(max).length,
    (t) => {
      if (!DECIMAL.test(t)) return undefined;
      const n = Number(t);
      return n >= min && n <= max ? n : undefined;
    },
    String,
    `a number from ${min} to ${max}`,
  );
}

/** One of `words`. */
export function wordField<W extends string>(key: string, words: readonly W[]): Field<W> {
  return checked<W>(
    key,
    "word",
    Math.max(...words.map((w) => w.length)),
    (t) => (words as readonly string[]).includes(t) ? t as W : undefined,
    (w) => w,
    words.map((w) => `"${w}"`).join(" or "),
    words,
  );
}

/** An @MI address (`laura@bb.com`). */
export function addressField(key: string): Field<string> {
  return checked<string>(
    key,
    "address",
    64 + 1 + 253,
    (t) => parseAddress(t).ok ? t : undefined,
    (v) => v,
    "an address",
  );
}

/** An endpoint `ip:port`. */
export function endpointField(key: string): Field<Endpoint> {
  return checked<Endpoint>(
    key,
    "endpoint",
    "255.255.255.255:65535".length,
    (t) => {
      const parsed = parseEndpoint(t);
      return parsed.ok ? parsed.value : undefined;
    },
    formatEndpoint,
    "ip:port",
  );
}

/** A bare key (`replace`): present or not. A value (`replace=…`) is malformed. */
export function flagField(key: string): Field<true> {
  return {
    key,
    kind: "flag",
    max: 0,
    read: (text) =>
      text === "" ? ok(true) : fail("malformed", key, `${key} is a bare word, not "${key}=…"`),
    write: () => key,
  };
}

/** Padding `x=---…`: any value, never read. `write` takes the number of dashes. */
export const PADDING: Field<number> = checked<number>(
  "x",
  "padding",
  512,
  () => 0,
  (n) => "-".repeat(n),
  "padding",
);

/** `at=<ip>:<port>`: where an agent is (`RK`, `RR`, `RP`). */
export const AT: Field<Endpoint> = endpointField("at");

/** The raw values of the parameters a message defines, by key. */
export type Picked = Map<string, string>;

/**
 * The raw values of the fields with keys `keys` in `params` (a bare word
 * `key` has the value `""`); any other parameter is ignored. A key given
 * twice is a failure.
 */
export function pick(params: readonly string[], keys: readonly string[]): Decoded<Picked> {
  const found: Picked = new Map();
  for (const p of params) {
    const eq = p.indexOf("=");
    const key = eq < 0 ? p : p.slice(0, eq);
    if (!keys.includes(key)) continue;
    if (found.has(key)) return fail("repeated", key, `${key}= is given twice`);
    found.set(key, eq < 0 ? "" : p.slice(eq + 1));
  }
  return ok(found);
}

/** Read field `field` from `picked`: `undefined` when absent. */
export function optional<T>(picked: Picked, field: Field<T>): Decoded<T | undefined> {
  const text = picked.get(field.key);
  return text === undefined ? ok(undefined) : field.read(text);
}

/** Read field `field` from `picked`: absent is a `missing` failure. */
export function required<T>(picked: Picked, field: Field<T>): Decoded<T> {
  const text = picked.get(field.key);
  if (text === undefined) return fail("missing", field.key, `${field.key}= is missing`);
  return field.read(text);
}
