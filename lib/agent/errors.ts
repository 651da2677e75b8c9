/**
 * The agent's named errors. Each sets `name`, keeps `{ cause }` and says in
 * the user's terms what failed and why (the texts are in `terminal/texts.ts`);
 * `main_agent.ts` maps them to exit codes.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import { problem, why } from "./terminal/texts.ts";

/** Options given to the agent are missing or invalid (a bad flag, a bad address…). */
export class UsageError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** The node of a domain could not be found (no DNS record, or DNS failed). */
export class NodeNotFoundError extends Error {
  /** The domain whose node was looked for. */
  readonly domain: string;

  constructor(domain: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NodeNotFoundError";
    this.domain = domain;
  }
}

/** The node did not answer a request after every attempt. */
export class NodeSilentError extends Error {
  /** The node that stayed silent. */
  readonly node: Endpoint;
  /** How many times the request was sent. */
  readonly attempts: number;

  /** `context` prefixes the message, e.g. `Cannot register laura@bb.com`. */
  constructor(node: Endpoint, attempts: number, options?: ErrorOptions, context?: string) {
    const what = problem.nodeSilent(attempts);
    super(context ? `${context}: ${what}` : what, options);
    this.name = "NodeSilentError";
    this.node = node;
    this.attempts = attempts;
  }
}

/** The node refused to register the user (`RR1`: no such user in its domain). */
export class RegistrationError extends Error {
  /** The address that was refused. */
  readonly address: string;

  constructor(address: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RegistrationError";
    this.address = address;
  }
}

/** A local socket could not be opened (e.g. the PMI port is taken). */
export class ListenError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ListenError";
  }
}

/** A PMI conversation could not be set up: no nickname in time, bad data, connection closed. */
export class HandshakeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "HandshakeError";
  }
}

/**
 * A peer was too slow: it took too long to finish a frame (a byte trickled
 * every few seconds), or a group link stayed silent past its idle timeout.
 */
export class PeerTimeoutError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PeerTimeoutError";
  }
}

/**
 * A peer overran a bound the agent keeps: it does not read what is sent to it
 * (too many bytes waiting), or it sent a group record longer than allowed.
 */
export class OverloadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OverloadError";
  }
}

/** A peer broke the rules of the group extension (a malformed or misplaced record). */
export class GroupProtocolError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "GroupProtocolError";
  }
}

/** A wait was cut short by the agent's abort signal. */
export class AbortedError extends Error {
  constructor(message = "aborted", options?: ErrorOptions) {
    super(message, options);
    this.name = "AbortedError";
  }
}

/** Explain `error` in one line, in the user's terms. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    if (error instanceof Deno.errors.ConnectionRefused) return why.connectionRefused();
    if (error instanceof Deno.errors.ConnectionReset) return why.connectionReset();
    if (error instanceof Deno.errors.TimedOut) return why.timedOut();
    if (error.name === "TimeoutError") return why.timedOut();
    if (error instanceof Deno.errors.AddrInUse) return why.addressInUse();
    return error.message;
  }
  return String(error);
}
