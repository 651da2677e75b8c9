/**
 * Signing in and out with the node, as the user lives it: a failure
 * explained and offered again on a terminal (leaving after it is a failure
 * too: {@linkcode GaveUpError}); a wrong password asked again, or a wrong
 * `LUMI_PASSWORD` named; another agent signed in as the user, taken over
 * only when asked; a refused deregistration explained.
 *
 * @module
 */

import { formatEndpoint } from "../../plumi/address.ts";
import { untilAborted } from "../abort.ts";
import {
  AbortedError,
  describeError,
  NodeNotFoundError,
  NodeSilentError,
  RegistrationError,
} from "../errors.ts";
import type { ExtendedSession } from "./extended_client.ts";
import { say } from "../terminal/texts.ts";
import type { ResolvedAgentOptions } from "../options.ts";
import type { PlumiClient } from "./client.ts";
import {
  type PasswordSource,
  registerWith,
  type Registration,
  SignedInElsewhereError,
  WrongPasswordError,
} from "./registration.ts";
import type { AgentUi } from "../terminal/ui.ts";

/**
 * The user was shown `cause` and chose to leave (or the agent had to stop
 * after telling them why): the program exits with the code of `cause`,
 * without printing it again.
 */
export class GaveUpError extends Error {
  override readonly cause: Error;

  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = "GaveUpError";
    this.cause = cause;
  }
}

/** Errors a person at a terminal may want to try again after (the same again would not help). */
function retryable(error: unknown): boolean {
  if (error instanceof WrongPasswordError || error instanceof SignedInElsewhereError) return false;
  return error instanceof NodeNotFoundError || error instanceof NodeSilentError ||
    error instanceof RegistrationError;
}

/**
 * Run `step`; on a retryable failure, a person at a terminal is told why and
 * may try again. Throws {@linkcode GaveUpError} if they chose to leave;
 * rethrows otherwise.
 */
export async function withRetry<T>(
  ui: AgentUi,
  signal: AbortSignal,
  step: () => Promise<T>,
): Promise<T> {
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (!ui.interactive || !retryable(error) || signal.aborted) throw error;
      ui.warn((error as Error).message);
      const answer = await untilAborted(ui.ask("Try again? [Y/n] "), signal);
      if (signal.aborted) throw new AbortedError("interrupted");
      if (answer === null || /^\s*n/i.test(answer)) throw new GaveUpError(error as Error);
    }
  }
}

export async function register(
  client: PlumiClient,
  address: string,
  password: PasswordSource,
  signal: AbortSignal,
  replace = false,
): Promise<Registration> {
  const where = `Cannot register ${address} with node ${formatEndpoint(client.node)}`;
  try {
    return await registerWith(client, address, password, { signal, replace });
  } catch (error) {
    if (error instanceof NodeSilentError) {
      throw new NodeSilentError(error.node, error.attempts, { cause: error }, where);
    }
    throw error;
  }
}

/** The password, and what to do when the node refuses it. */
export interface Password {
  /** Given in the options, else asked on a terminal (hidden) when the node wants one, else none. */
  readonly get: PasswordSource;
  /** The node refused it: a typed password is forgotten (asked again, `true`); a given one cannot be. */
  refused(): boolean;
}

export function passwordSource(
  o: ResolvedAgentOptions,
  ui: AgentUi,
  address: string,
  signal: AbortSignal,
): Password {
  let known = o.password;
  let typed = false;
  return {
    get: async () => {
      if (known === undefined && ui.interactive) {
        const question = `Password for ${address}: `;
        const answer = await untilAborted(
          ui.askSecret ? ui.askSecret(question) : ui.ask(question),
          signal,
        );
        // Ctrl-C at the prompt: leave (the prompt itself does not end on an interrupt).
        if (signal.aborted) throw new AbortedError("interrupted");
        known = answer ?? undefined;
        typed = known !== undefined;
      }
      return known;
    },
    refused: () => {
      if (!typed) return false;
      known = undefined;
      typed = false;
      return true;
    },
  };
}

/** Most passwords asked in a row on a terminal before the agent gives up. */
const PASSWORD_TRIES = 3;

/**
 * Register, dealing with what the user can fix at once: a wrong typed
 * password is asked again (a wrong `LUMI_PASSWORD` is said to be wrong); on a
 * terminal, when another agent is signed in, the user may take over.
 */
export async function registerFirst(
  o: ResolvedAgentOptions,
  client: PlumiClient,
  address: string,
  password: Password,
  ui: AgentUi,
  signal: AbortSignal,
): Promise<Registration> {
  let replace = o.replace;
  for (let tries = 1;; tries++) {
    try {
      return await register(client, address, password.get, signal, replace);
    } catch (error) {
      if (error instanceof WrongPasswordError) {
        if (!password.refused()) {
          throw new WrongPasswordError(address, say.wrongPasswordFrom(address, o.passwordOrigin));
        }
        if (tries >= PASSWORD_TRIES) throw error;
        ui.warn(say.wrongPassword(address));
        continue;
      }
      if (error instanceof SignedInElsewhereError && ui.interactive && !replace) {
        ui.warn(error.message);
        const answer = await untilAborted(ui.ask(say.takeOver()), signal);
        if (signal.aborted) throw new AbortedError("interrupted");
        if (answer === null || !/^\s*y/i.test(answer)) throw new GaveUpError(error);
        replace = true;
        continue;
      }
      throw error;
    }
  }
}

export async function deregister(
  client: PlumiClient,
  address: string,
  extended: ExtendedSession | undefined,
  ui: AgentUi,
  signal: AbortSignal,
): Promise<void> {
  try {
    let refused: string | undefined;
    if (extended) refused = await extended.deregister(signal);
    else {
      const reply = await client.request(
        { kind: "deregister", address, params: [] },
        (m) => m.kind === "deregister-reply",
        signal,
      );
      // An original node refuses a user it does not know; ours also a PD from anywhere but the
      // agent that holds the registration (another agent signed in as this user since).
      if (reply.kind !== "deregister-reply" || reply.code !== 0) {
        refused = "the node refused it (it does not know this user, or another agent holds " +
          "the registration)";
      }
    }
    if (refused === undefined) ui.info(say.deregistered(address));
    else ui.warn(say.deregisterFailed(address, refused));
  } catch (error) {
    if (error instanceof AbortedError) ui.warn(say.deregisterFailed(address, "interrupted"));
    else ui.warn(say.deregisterFailed(address, describeError(error)));
  }
}
