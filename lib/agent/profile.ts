/**
 * The agent's profile: its data folder, and `lumi-agent.ini` in it, which
 * holds the settings of the usual identity (address, nick, node and any
 * other option, named as the command-line flags are). `deno task agent`
 * alone then starts that identity; flags given on the command line override
 * the profile. The packet logs live in the data folder too (`logs/`), never
 * in the current folder.
 *
 * The data folder: `--data DIR`; else `$XDG_DATA_HOME/lumi`; else
 * `$HOME/.local/share/lumi` (on Windows `%APPDATA%\lumi`).
 *
 * @module
 */

import { parse as parseIni } from "#ini";

/** The profile's file name, in the data folder. */
export const PROFILE_FILE = "lumi-agent.ini";

/** The environment variables the data folder is found with (the agent may read only these). */
export const DATA_ENV = ["XDG_DATA_HOME", "HOME", "APPDATA"] as const;

/**
 * The data folder: `flag` when given; else from the environment (`env` reads
 * a variable, `undefined` when unset or not allowed). `undefined` when no
 * variable tells.
 */
export function dataFolder(
  flag: string | undefined,
  env: (name: (typeof DATA_ENV)[number]) => string | undefined,
  os: string = Deno.build.os,
): string | undefined {
  if (flag !== undefined && flag !== "") return flag;
  const xdg = env("XDG_DATA_HOME");
  if (xdg) return `${xdg}/lumi`;
  if (os === "windows") {
    const appData = env("APPDATA");
    if (appData) return `${appData}\\lumi`;
  }
  const home = env("HOME");
  return home ? `${home}/.local/share/lumi` : undefined;
}

/** The packet log of `address` in the data folder `dir`: `<dir>/logs/<address>.log`. */
export function logFileIn(dir: string, address: string): string {
  return `${dir}/logs/${address.replace(/[\/\\]/g, "_")}.log`;
}

/** The settings a profile holds: flag names (without `--`) and their values. */
export type ProfileSettings = Readonly<Record<string, string | boolean>>;

/** Settings a profile may hold: the flags that describe an identity and its options. */
export const PROFILE_KEYS: readonly string[] = [
  "address",
  "nick",
  "node",
  "port",
  "advertise",
  "dns-server",
  "log",
  "no-log",
  "nick-timeout",
  "max-chats",
  "group-port",
  "max-groups",
  "max-group-size",
  "frame-timeout",
  "group-idle",
  "max-handshakes",
  "max-handshakes-per-ip",
  "web",
];

/**
 * Read a profile's text. Throws {@linkcode SyntaxError} naming the key for
 * a setting that is not one of {@linkcode PROFILE_KEYS}.
 */
export function parseProfile(text: string): ProfileSettings {
  const parsed = parseIni(text) as Record<string, unknown>;
  const settings: Record<string, string | boolean> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!PROFILE_KEYS.includes(key)) {
      throw new SyntaxError(`unknown setting "${key}" (known: ${PROFILE_KEYS.join(", ")})`);
    }
    if (typeof value === "boolean") settings[key] = value;
    else if (typeof value === "string") settings[key] = value;
    else throw new SyntaxError(`setting "${key}" is not a single value`);
  }
  return settings;
}

/** The text of a new profile holding `settings`, with the other settings shown commented out. */
export function profileText(settings: ProfileSettings): string {
  const lines = [
    "; LUMI agent profile: `deno task agent` starts with these settings;",
    "; flags given on the command line override them. Keys are the flags' names.",
  ];
  for (const key of PROFILE_KEYS) {
    const value = settings[key];
    if (value === undefined || value === false) continue;
    lines.push(value === true ? `${key} = true` : `${key} = ${value}`);
  }
  lines.push(
    "; port = 0",
    "; max-chats = 8",
    "; max-groups = 4",
    "; advertise = 192.0.2.10",
  );
  return `${lines.join("\n")}\n`;
}

/**
 * The command-line words a profile adds before the user's own `args`: each
 * setting not given in `args` (a flag there wins; `log` and `no-log` count
 * as one setting).
 */
export function profileArgs(settings: ProfileSettings, args: readonly string[]): string[] {
  const given = new Set(
    args.filter((a) => a.startsWith("--")).map((a) => a.slice(2).split("=")[0]!),
  );
  if (given.has("log") || given.has("no-log")) {
    given.add("log");
    given.add("no-log");
  }
  const out: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    if (given.has(key) || value === false) continue;
    if (value === true) out.push(`--${key}`);
    else out.push(`--${key}`, value);
  }
  return out;
}

/** The value of `--name` in `args` (`--name V` or `--name=V`), if given. */
export function flagValue(args: readonly string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === `--${name}`) return args[i + 1];
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

/** A profile as found at start: where, what it adds to the command line, whether it exists. */
export interface LoadedProfile {
  /** The data folder, if one is known. */
  readonly dir: string | undefined;
  /** The profile file, if there is a data folder. */
  readonly path: string | undefined;
  /** Whether the file exists (else it is created once the identity is known). */
  readonly exists: boolean;
  /** Command-line words its settings add before the user's (see {@linkcode profileArgs}). */
  readonly args: string[];
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // not allowed
  }
}

/**
 * Find the data folder for `args` (`--data`, else the environment) and read
 * its profile. A missing profile is not an error; one that cannot be read or
 * parsed throws an `Error` that names the file.
 */
export async function loadProfile(
  args: readonly string[],
  env: (name: string) => string | undefined = readEnv,
): Promise<LoadedProfile> {
  const dir = dataFolder(flagValue(args, "data"), env);
  if (dir === undefined) return { dir, path: undefined, exists: false, args: [] };
  const path = `${dir}/${PROFILE_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { dir, path, exists: false, args: [] };
    throw new Error(`Cannot read the profile ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let settings: ProfileSettings;
  try {
    settings = parseProfile(text);
  } catch (error) {
    throw new Error(`Bad profile ${path}: ${(error as Error).message}`, { cause: error });
  }
  return { dir, path, exists: true, args: profileArgs(settings, args) };
}

/**
 * Make the data folder and its `logs/` (owner only, 0700) if missing.
 * Throws when it cannot.
 */
export async function ensureDataFolder(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/logs`, { recursive: true, mode: 0o700 });
}

/**
 * Write a new profile at `path` with `settings`, unless one appeared
 * meanwhile (another agent started at the same time): `true` if written.
 */
export async function createProfile(path: string, settings: ProfileSettings): Promise<boolean> {
  try {
    await Deno.writeTextFile(path, profileText(settings), { createNew: true, mode: 0o600 });
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
}
