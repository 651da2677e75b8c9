/**
 * @MI addresses (`name@domain`) and socket endpoints (`ip:port`) as PLUMI
 * carries them. Pure functions: no I/O.
 *
 * @module
 */

/** A parsed @MI address such as `laura@bb.com`. */
export interface MiAddress {
  /** The user name, before the `@`. */
  readonly name: string;
  /** The domain, after the `@`; compared case-insensitively. */
  readonly domain: string;
}

/** An IPv4 address and port, e.g. an agent's @sckMI. */
export interface Endpoint {
  readonly ip: string;
  readonly port: number;
}

/** Why an address or endpoint did not parse. */
export type AddressErrorKind =
  | "missing-at"
  | "bad-name"
  | "bad-domain"
  | "bad-ip"
  | "bad-port";

/** Result of a parse: the value, or a precise error. */
export type ParseResult<T, K extends string> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly kind: K; readonly message: string };

// A user name: printable ASCII except space, the characters PLUMI uses as separators
// (`@`, `:`, `;`), and those that nodelumi.cfg gives a meaning (`=`, `#`, `[`, `]`), so that
// every name a node accepts can be written to its configuration and read back. Up to 64 bytes.
const NAME = /^[!-~]{1,64}$/;
const NAME_FORBIDDEN = /[@:;=#[\]]/;

/** The rule for user names, in words, for messages. */
export const NAME_RULE = "1-64 printable ASCII characters, without space or @ : ; = # [ ]";
// A DNS name (letters, digits, hyphens, dots), as the original accepts e.g. `PC-c`.
const DOMAIN =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
// Decimal without leading zeros, so that a decoded port re-encodes to the same text.
const PORT = /^[1-9][0-9]{0,4}$/;

function fail<K extends string>(kind: K, message: string): { ok: false; kind: K; message: string } {
  return { ok: false, kind, message };
}

/** Is `name` acceptable as the user part of an @MI address (see {@linkcode NAME_RULE})? */
export function isValidName(name: string): boolean {
  return NAME.test(name) && !NAME_FORBIDDEN.test(name);
}

/**
 * The user name LUMI's nodes and agents send their probes as (`PL.lumi-probe@bb.com:joan@bb.com`):
 * a valid name in an address, but never a user, so that no agent receives the probes' answers.
 */
export const PROBE_NAME = ".lumi-probe";

/**
 * Why `name` cannot be a user of a domain (not of {@linkcode NAME_RULE}, or the probes' name), in
 * words for a message; `undefined` if it can.
 */
export function userNameProblem(name: string): string | undefined {
  if (!isValidName(name)) return `"${name}" is not a valid user name (${NAME_RULE})`;
  if (name === PROBE_NAME) return `"${name}" is reserved for the node's probes`;
  return undefined;
}

/** Is `domain` acceptable as the domain part of an @MI address? */
export function isValidDomain(domain: string): boolean {
  return DOMAIN.test(domain);
}

/**
 * Parse `name@domain`.
 *
 * @example
 * ```ts
 * const r = parseAddress("laura@bb.com");
 * if (r.ok) console.log(r.value.domain); // "bb.com"
 * ```
 */
export function parseAddress(
  text: string,
): ParseResult<MiAddress, "missing-at" | "bad-name" | "bad-domain"> {
  const at = text.indexOf("@");
  if (at < 0) return fail("missing-at", `"${text}" is not an address: it has no "@"`);
  const name = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (!isValidName(name)) {
    return fail("bad-name", `"${text}" has an invalid user name "${name}"`);
  }
  if (!isValidDomain(domain)) {
    return fail("bad-domain", `"${text}" has an invalid domain "${domain}"`);
  }
  return { ok: true, value: { name, domain } };
}

/** Format an address back to `name@domain`. */
export function formatAddress(address: MiAddress): string {
  return `${address.name}@${address.domain}`;
}

/** Normalise a domain for comparison: lower case, no trailing dot. */
export function normalizeDomain(domain: string): string {
  const lower = domain.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** Parse a dotted-quad IPv4 address. */
export function parseIp(text: string): ParseResult<string, "bad-ip"> {
  return IPV4.test(text)
    ? { ok: true, value: text }
    : fail("bad-ip", `"${text}" is not an IPv4 address`);
}

/** Parse a port number 1–65535, written in decimal without leading zeros. */
export function parsePort(text: string, allowZero = false): ParseResult<number, "bad-port"> {
  const port = PORT.test(text) || (allowZero && text === "0") ? Number(text) : NaN;
  return port >= (allowZero ? 0 : 1) && port <= 65535
    ? { ok: true, value: port }
    : fail("bad-port", `"${text}" is not a port number (1-65535)`);
}

/**
 * Parse `ip:port` (IPv4 only, as the original protocol).
 *
 * @example
 * ```ts
 * parseEndpoint("127.0.0.1:3344"); // { ok: true, value: { ip: "127.0.0.1", port: 3344 } }
 * ```
 */
export function parseEndpoint(
  text: string,
  options: { allowPortZero?: boolean } = {},
): ParseResult<Endpoint, "bad-ip" | "bad-port"> {
  const colon = text.lastIndexOf(":");
  if (colon < 0) return fail("bad-port", `"${text}" has no ":port"`);
  const ip = parseIp(text.slice(0, colon));
  if (!ip.ok) return ip;
  const port = parsePort(text.slice(colon + 1), options.allowPortZero);
  if (!port.ok) return port;
  return { ok: true, value: { ip: ip.value, port: port.value } };
}

/** Format an endpoint as `ip:port`. */
export function formatEndpoint(endpoint: Endpoint): string {
  return `${endpoint.ip}:${endpoint.port}`;
}
