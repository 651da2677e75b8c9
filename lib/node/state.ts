/**
 * Registrations kept across restarts: which users were online and where.
 * An original agent registers once and never again, so a node that forgot
 * its registrations on restart would make every such user unreachable.
 *
 * The file is JSON, replaced atomically, so it is never half written.
 *
 * @module
 */

import { writeFileAtomic } from "../atomic_file.ts";
import { isValidName, parseEndpoint } from "../plumi/address.ts";
import type { Directory } from "./directory.ts";

/** A state file that exists but cannot be read back. */
export class StateError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StateError";
  }
}

interface StateFile {
  readonly version: 1;
  /** `[name, "ip:port", since]` per online user. */
  readonly online: [string, string, number][];
}

/** Write the online users of `directory` that registered with the original protocol to `path`. */
export async function saveState(path: string, directory: Directory): Promise<void> {
  await writeFileAtomic(path, stateText(directory));
}

/**
 * The state file's text, in pieces of {@linkcode SLICE} registrations: each
 * piece is written before the next is made, so a million registrations
 * neither stop the node answering nor exist as one huge string.
 */
async function* stateText(directory: Directory): AsyncGenerator<string> {
  yield `{"version":1,"online":[`;
  let slice: string[] = [];
  let first = true;
  for (const [name, registration] of directory.online()) {
    // An extended agent's session (its token) does not survive a restart: the agent is told
    // RK1 and registers again. Restored without a session, it would never expire.
    if (registration.session) continue;
    const { ip, port } = registration.endpoint;
    slice.push(JSON.stringify([name, `${ip}:${port}`, registration.since]));
    if (slice.length === SLICE) {
      yield (first ? "" : ",") + slice.join(",");
      first = false;
      slice = [];
    }
  }
  if (slice.length > 0) yield (first ? "" : ",") + slice.join(",");
  yield "]}\n";
}

/** Registrations serialised between two yields to the event loop. */
const SLICE = 10_000;

/**
 * Restore registrations from `path` into `directory`. A missing file is a
 * first start (returns 0); a corrupt one throws {@linkcode StateError}.
 * Users no longer in the directory are skipped. Returns how many were restored.
 */
export async function loadState(path: string, directory: Directory): Promise<number> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw new StateError(`Cannot read the state file ${path}: ${error}`, { cause: error });
  }
  const corrupt = (why: string) =>
    new StateError(`The state file ${path} is corrupt (${why}); move it away to start without it`);
  let state: StateFile;
  try {
    state = JSON.parse(text);
  } catch (error) {
    throw new StateError(
      `The state file ${path} is corrupt (not JSON); move it away to start without it`,
      {
        cause: error,
      },
    );
  }
  if (state?.version !== 1 || !Array.isArray(state.online)) throw corrupt("unknown layout");
  let restored = 0;
  for (const entry of state.online) {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || !isValidName(entry[0])) {
      throw corrupt("bad entry");
    }
    const endpoint = parseEndpoint(String(entry[1]));
    if (!endpoint.ok || typeof entry[2] !== "number") throw corrupt(`bad entry for ${entry[0]}`);
    if (directory.register(entry[0], endpoint.value, entry[2])) restored++;
  }
  return restored;
}
