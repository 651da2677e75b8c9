/**
 * `nodelumi.cfg` on disk: load it, and save the user list back after every
 * administrator change, atomically and one save at a time.
 *
 * @module
 */

import { writeFileAtomic } from "../atomic_file.ts";
import { ConfigError, type NodeConfig, parseConfig, renderConfig } from "./config.ts";

/** Read and parse a configuration file. Throws {@linkcode ConfigError} with the path and line. */
export async function loadConfig(path: string): Promise<{ config: NodeConfig; text: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "the file does not exist"
      : error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : String(error);
    throw new ConfigError(0, `Cannot read ${path}: ${reason}`, { cause: error });
  }
  try {
    return { config: parseConfig(text), text };
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new ConfigError(error.line, error.reason, { cause: error, file: path });
    }
    throw error;
  }
}

/** Saves the user list into the configuration file, keeping its form. */
export class ConfigStore {
  readonly path: string;
  readonly #format: NodeConfig["format"];
  readonly #domain: string;
  #text: string;
  #queue: Promise<void> = Promise.resolve();

  constructor(path: string, config: NodeConfig, text: string, domain: string) {
    this.path = path;
    this.#format = config.format;
    this.#domain = domain;
    this.#text = text;
  }

  /**
   * Write the file with `users`, atomically (temp file, fsync, rename).
   * Saves run one after another in call order; resolves once this one is on disk.
   */
  save(users: Iterable<string>): Promise<void> {
    const list = [...users];
    const next = this.#queue.then(async () => {
      const text = renderConfig(this.#text, this.#format, this.#domain, list);
      await writeFileAtomic(this.path, text);
      this.#text = text;
    });
    this.#queue = next.catch(() => {});
    return next;
  }
}
