/**
 * The relay's TCP handshake, both sides (docs/PROTOCOL.md, "The relay's TCP
 * handshake"): an agent connects out to the node's relay and sends one line,
 * `LUMI-RELAY <key>\n`; the relay answers `OK\n` once the other party has
 * joined, or `NO <reason>\n` and closes. After `OK\n` the connection carries
 * the two agents' bytes unchanged.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { connectTcp, type StreamConn } from "./tcp.ts";

/** What a party sends first, before its key. */
export const RELAY_HELLO = "LUMI-RELAY ";
/** The relay's answer once both parties joined. */
export const RELAY_OK = "OK\n";
/** Longest handshake line either way, `\n` included, bytes. */
export const RELAY_LINE_MAX = 64;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The hello line for `key`. */
export function relayHello(key: string): Uint8Array {
  return encoder.encode(`${RELAY_HELLO}${key}\n`);
}

/** The key of a hello line (without its `\n`), or `undefined` if it is not one. */
export function parseRelayHello(line: string): string | undefined {
  if (!line.startsWith(RELAY_HELLO)) return undefined;
  const key = line.slice(RELAY_HELLO.length);
  return /^[A-Za-z0-9_-]{1,40}$/.test(key) ? key : undefined;
}

/** The relay refused, or the connection ended during the handshake. */
export class RelayRefusedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RelayRefusedError";
  }
}

/**
 * Read one line (up to `\n`, at most {@linkcode RELAY_LINE_MAX} bytes) one
 * byte at a time, so that nothing after it is consumed. Resolves without the
 * `\n`; `undefined` when the connection ended or the line is too long.
 */
export async function readRelayLine(conn: StreamConn): Promise<string | undefined> {
  const line = new Uint8Array(RELAY_LINE_MAX);
  const one = new Uint8Array(1);
  for (let at = 0; at < RELAY_LINE_MAX; at++) {
    const n = await conn.read(one);
    if (n === null) return undefined;
    if (one[0] === 0x0a) return decoder.decode(line.subarray(0, at));
    line[at] = one[0]!;
  }
  return undefined;
}

/**
 * Connect to the relay at `relay`, present `key`, and wait (at most
 * `timeoutMs` in all) until the other party joined. Resolves with the
 * connection, ready to carry the conversation; throws
 * {@linkcode RelayRefusedError} (or the connect error) otherwise.
 */
export async function connectRelay(
  relay: Endpoint,
  key: string,
  timeoutMs: number,
  connect: (to: Endpoint, timeoutMs: number) => Promise<StreamConn> = connectTcp,
): Promise<StreamConn> {
  const conn = await connect(relay, timeoutMs);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(relayHello(key));
    const line = await readRelayLine(conn);
    if (line === "OK") return conn;
    const why = line === undefined
      ? "the relay closed the connection (the other party did not come)"
      : `the relay said "${line.slice(0, 40)}"`;
    throw new RelayRefusedError(why);
  } catch (error) {
    try {
      conn.close();
    } catch {
      // already closed
    }
    if (error instanceof RelayRefusedError) throw error;
    throw new RelayRefusedError(`the relay connection failed: ${error}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}
