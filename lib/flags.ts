/**
 * Command-line flags for both programs: `node:util`'s `parseArgs` with errors
 * in the user's terms (the flag's name, and the nearest known flag for a
 * mistyped one), the exit code of a usage error, and the `--version` line.
 *
 * @module
 */

import { parseArgs } from "#cli";
import leven from "#leven";
import project from "../deno.json" with { type: "json" };

/** Exit code of a command-line usage error (`EX_USAGE` of sysexits.h), the same for both programs. */
export const EXIT_USAGE = 64;

/** A flag is unknown, lacks its value or has a bad one; the message names the flag. */
export class FlagError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FlagError";
  }
}

/** One flag: a string with a value, or a boolean switch; `short` a one-letter alias. */
export interface FlagSpec {
  readonly type: "string" | "boolean";
  readonly short?: string;
}

/** The values of the flags given, by long name: a string for a string flag, `true` for a switch. */
export type FlagValues<T extends Record<string, FlagSpec>> = {
  [K in keyof T]?: T[K]["type"] extends "string" ? string : boolean;
};

/**
 * The known flag nearest to `given` (`--adress` → `--address`), or
 * `undefined` when none is close: at most a third of the longer name differs.
 */
export function nearestFlag(given: string, known: readonly string[]): string | undefined {
  const name = given.replace(/^-+/, "").split("=")[0]!;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = candidate.startsWith(name) && name.length >= 3 ? 0.5 : leven(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  if (best === undefined) return undefined;
  return bestDistance <= Math.max(1, Math.floor(Math.max(name.length, best.length) / 3))
    ? `--${best}`
    : undefined;
}

/**
 * Parse `args` against `flags` (long name → spec). No positional arguments.
 * Throws {@linkcode FlagError}: `Unknown flag --adress (did you mean
 * --address?)`, `--address needs a value`, `--verbose takes no value`.
 *
 * @example
 * ```ts
 * const values = parseFlags(["--listen", "127.0.0.1:3344"], { listen: { type: "string" } });
 * // values.listen === "127.0.0.1:3344"
 * ```
 */
export function parseFlags<T extends Record<string, FlagSpec>>(
  args: readonly string[],
  flags: T,
): FlagValues<T> {
  try {
    const { values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: flags,
    });
    return { ...values } as FlagValues<T>;
  } catch (error) {
    throw new FlagError(explain(error, Object.keys(flags)), { cause: error });
  }
}

function explain(error: unknown, known: readonly string[]): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const flag = message.match(/'(-[^' ]+)/)?.[1];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION": {
      const near = flag ? nearestFlag(flag, known) : undefined;
      return `Unknown flag ${flag}${near ? ` (did you mean ${near}?)` : ""}`;
    }
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return / argument missing/.test(message) ? `${flag} needs a value` : `${flag} takes no value`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL": {
      const word = message.match(/'([^']*)'/)?.[1] ?? "";
      const near = nearestFlag(word, known);
      return `Unexpected argument "${word}": every option is a flag${
        near ? ` (did you mean ${near}?)` : ""
      }`;
    }
    default:
      return message;
  }
}

/** The `--version` line: `lumi-agent 0.1.0 (Deno 2.9.6)`. */
export function versionLine(program: "node" | "agent"): string {
  return `lumi-${program} ${project.version} (Deno ${Deno.version.deno})`;
}
