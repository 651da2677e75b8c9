/**
 * `nodelumi.cfg` on disk: load it, and save the user list back after every
 * administrator change, atomically and one save at a time. A hand edit made
 * while the node runs is never overwritten: a save first checks that the file
 * is still what the node last read or wrote, and `reload` takes the edit in.
 *
 * @module
 */

import { writeFileAtomic } from "../atomic_file.ts";
import { normalizeDomain } from "../plumi/address.ts";
import { ConfigError, type NodeConfig, parseConfig, renderConfig } from "./config.ts";
import { FileKindError, readRegularFile } from "./regular_file.ts";

/** The largest configuration file the node reads (a million users fit in a tenth of it). */
export const MAX_CONFIG_BYTES = 64 * 2 ** 20;

/** Read the text of a configuration file. Throws {@linkcode ConfigError} saying why not. */
async function readConfigText(path: string): Promise<string> {
  try {
    return await readRegularFile(path, MAX_CONFIG_BYTES);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "the file does not exist"
      : error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : error instanceof FileKindError
      ? error.reason
      : String(error);
    throw new ConfigError(0, `Cannot read ${path}: ${reason}`, { cause: error });
  }
}

function parseFile(path: string, text: string): NodeConfig {
  try {
    return parseConfig(text);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new ConfigError(error.line, error.reason, { cause: error, file: path });
    }
    throw error;
  }
}

/** Read and parse a configuration file. Throws {@linkcode ConfigError} with the path and line. */
export async function loadConfig(path: string): Promise<{ config: NodeConfig; text: string }> {
  const text = await readConfigText(path);
  return { config: parseFile(path, text), text };
}

/** The configuration file was changed on disk since the node read or wrote it. */
export class ConfigChangedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConfigChangedError";
  }
}

/** Everything but the user list, comparable as a string. */
function settingsOf(config: NodeConfig): string {
  const { users: _users, format: _format, domains, ...rest } = config;
  return JSON.stringify({ ...rest, domains: [...domains].sort() });
}

/** Saves the user list into the configuration file, keeping its form. */
export class ConfigStore {
  readonly path: string;
  readonly #domain: string;
  #format: NodeConfig["format"];
  #config: NodeConfig;
  /** The text last read from or written to the file. */
  #text: string;
  #queue: Promise<void> = Promise.resolve();

  constructor(path: string, config: NodeConfig, text: string, domain: string) {
    this.path = path;
    this.#format = config.format;
    this.#config = config;
    this.#domain = domain;
    this.#text = text;
  }

  /** Run `work` after every earlier save or reload. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work);
    this.#queue = next.then(() => {}, () => {});
    return next;
  }

  /**
   * Write the file with `users`, atomically (temp file, fsync, rename).
   * Saves run one after another in call order; resolves once this one is on
   * disk. Rejects with {@linkcode ConfigChangedError}, writing nothing, when
   * the file on disk is no longer what the node last read or wrote.
   */
  save(users: Iterable<string>): Promise<void> {
    const list = [...users];
    return this.#serial(async () => {
      await this.#unchanged();
      const text = renderConfig(this.#text, this.#format, this.#domain, list);
      await writeFileAtomic(this.path, text);
      this.#text = text;
    });
  }

  /** Reject with {@linkcode ConfigChangedError} if the file is no longer what the node last read or wrote. */
  verify(): Promise<void> {
    return this.#serial(() => this.#unchanged());
  }

  async #unchanged(): Promise<void> {
    let onDisk: string | undefined;
    try {
      onDisk = await readConfigText(this.path);
    } catch (error) {
      if (!(error instanceof ConfigError && error.cause instanceof Deno.errors.NotFound)) {
        throw error;
      }
    }
    if (onDisk !== this.#text) {
      throw new ConfigChangedError(
        `${this.path} was ${
          onDisk === undefined ? "removed" : "changed"
        } on disk since the node read it, so it was not overwritten. ` +
          `Type "reload" to take the file in, then repeat the command.`,
      );
    }
  }

  /**
   * Read the file again. Resolves to its user list, and a note when other
   * settings changed (those take effect at the next start). Rejects with
   * {@linkcode ConfigError} when the file cannot be used or names another domain.
   */
  reload(): Promise<{ users: readonly string[]; note?: string }> {
    return this.#serial(async () => {
      const text = await readConfigText(this.path);
      const config = parseFile(this.path, text);
      const was = this.#config.domain;
      if ((config.domain && normalizeDomain(config.domain)) !== (was && normalizeDomain(was))) {
        throw new ConfigError(
          0,
          `${this.path} now names the domain ${config.domain ?? "(none)"}, not ${
            was ?? "(none)"
          }: a node changes domains only by a restart. Nothing was reloaded.`,
        );
      }
      const changed = settingsOf(config) !== settingsOf(this.#config);
      this.#config = config;
      this.#format = config.format;
      this.#text = text;
      return {
        users: config.users,
        ...(changed && { note: "Settings other than the users take effect at the next start." }),
      };
    });
  }
}
