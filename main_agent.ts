/**
 * The LUMI agent program: parses flags, calls {@linkcode runAgent}, maps its
 * errors to exit codes. Run with `deno task agent --help`.
 *
 * @module
 */

import {
  EXIT_USAGE,
  FlagError,
  type FlagSpec,
  parseFlags as parseCommandLine,
  versionLine,
} from "./lib/flags.ts";
import {
  AbortedError,
  type AgentOptions,
  GaveUpError,
  ListenError,
  NodeNotFoundError,
  NodeSilentError,
  RegistrationError,
  runAgent,
  SignedInElsewhereError,
  UsageError,
} from "./lib/agent/mod.ts";
import { parseEndpoint, parseIp } from "./lib/plumi/address.ts";
import { DEFAULT_WEB, withWebDefault } from "./lib/agent/options.ts";
import {
  createProfile,
  ensureDataFolder,
  flagValue,
  type LoadedProfile,
  loadProfile,
  PROFILE_KEYS,
} from "./lib/agent/profile.ts";
import { client as clientText } from "./lib/agent/terminal/texts.ts";
import { systemDns } from "./lib/transport/dns.ts";

/** Exit codes of the agent (README.md, "Exit codes"). */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  NotAUser: 3,
  NodeNotFound: 4,
  NodeSilent: 5,
  CannotListen: 6,
  SignedInElsewhere: 7,
  Usage: EXIT_USAGE,
  Interrupted: 130,
} as const;

const HELP = `LUMI agent: chat with other @MI users through the node of your domain.

Usage: deno task agent [options]

Profile: the settings of your usual identity are kept in lumi-agent.ini in the
data folder (created at the first start, with the address, nickname and node
given or asked then); flags override it. Packet logs go to its logs/ folder.

Options:
  --data DIR             the data folder (default: $XDG_DATA_HOME/lumi, else
                         ~/.local/share/lumi; on Windows %APPDATA%\lumi)
  --address NAME@DOMAIN  your @MI address, e.g. laura@example.test (asked on a terminal if missing)
  --nick NICK            the nickname others see (asked on a terminal if missing)
  --port PORT            TCP port for conversations; 0 picks a free one (default 0)
  --node IP:PORT         the node to register with (default: found by DNS: SRV
                         _plumi._udp.DOMAIN, else the A record of DOMAIN, port 3344)
  --advertise IP         the IP peers connect to (default: this host's address towards the node)
  --dns-server IP:PORT   DNS server used to find the node (default: the system's)
  --log FILE             packet log file (default: logs/NAME@DOMAIN.log in the data folder)
  --no-log               keep no packet log
  --nick-timeout SECS    drop a connection whose handshake is not over in time (default 10)
  --max-chats N          most conversations at once; past it, callers are told you are busy
                         (default 8; 1 behaves as the original agent)
  --group-port PORT      TCP port for group links; 0 picks a free one (default 0)
  --max-groups N         most group chats at once; 0 switches groups off (default 4)
  --max-group-size N     most members of a group, 2-64 (default 16)
  --frame-timeout SECS   drop a peer that takes longer to send one frame (default 5)
  --group-idle SECS      drop a group member silent this long; keep-alives every third (default 45)
  --max-handshakes N     most incoming connections being set up at once (default 32)
  --max-handshakes-per-ip N   the same, from one IP address (default 8)
  --relay MODE           calls through the relay of the callee's node: fallback (when a
                         direct connection fails), always, or off (default fallback)
  --history FILE         keep every line sent and received in this SQLite file (/history, /search)
  --signup               create the account NAME@DOMAIN on the node first (if it allows sign-up)
  --replace              sign in even if NAME@DOMAIN is signed in elsewhere; that agent stops
  --web [IP:PORT]        serve a chat page at http://IP:PORT (default 127.0.0.1:8340); the
                         link printed at start holds its access token; loopback unless given
  --require-encryption   refuse conversations in clear (original agents)
  --no-encryption        talk in clear to everyone (keeps no identity key)
  --version              show the program's and Deno's versions
  --help                 show this help

Password: a user with a password logs in with a proof (the password never
crosses the network). It is read from the environment variable LUMI_PASSWORD,
or asked (hidden) on a terminal when the node asks for it.

Once registered, type an address to call someone, then type lines to chat.
/call, /list, /switch and /close handle several conversations; /group, /invite,
/accept, /decline, /topic and /leave group chats; /add, /del, /buddies, /online,
/whois, /away and /back buddies and presence (with an extended node); /me, /nick
and /clear the rest. /exit ends the current conversation, /quit (or Ctrl-C, or
the end of the input) leaves, /help lists every command. On a terminal, lines can
be edited (arrows, Home/End, word jumps), Up/Down recall them and Tab completes.
With stdin piped, commands are read one per line.

Exit codes: 0 done, 1 unexpected failure, 3 registration refused (no such user,
wrong password, sign-up refused), 4 node not found, 5 node does not respond,
6 cannot listen, 7 signed in from another place, 64 bad flags or options,
130 interrupted before being registered.`;

const FLAGS = {
  data: { type: "string" },
  address: { type: "string" },
  nick: { type: "string" },
  port: { type: "string" },
  node: { type: "string" },
  advertise: { type: "string" },
  "dns-server": { type: "string" },
  log: { type: "string" },
  "no-log": { type: "boolean" },
  "nick-timeout": { type: "string" },
  "max-chats": { type: "string" },
  "group-port": { type: "string" },
  "max-groups": { type: "string" },
  "max-group-size": { type: "string" },
  "frame-timeout": { type: "string" },
  "group-idle": { type: "string" },
  "max-handshakes": { type: "string" },
  "max-handshakes-per-ip": { type: "string" },
  relay: { type: "string" },
  history: { type: "string" },
  signup: { type: "boolean" },
  replace: { type: "boolean" },
  "require-encryption": { type: "boolean" },
  "no-encryption": { type: "boolean" },
  web: { type: "string" },
  version: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies Record<string, FlagSpec>;

function endpointFlag(name: string, text: string | undefined) {
  if (text === undefined) return undefined;
  const parsed = parseEndpoint(text);
  if (!parsed.ok) throw new UsageError(`Bad ${name}: ${parsed.message}`);
  return parsed.value;
}

/**
 * `--web`'s address: `IP:PORT` (port 0: any free one), `localhost:PORT`, or `true` (`web = true`
 * in a profile: the default address).
 */
function webFlag(text: string | undefined) {
  if (text === undefined) return undefined;
  if (text === "true") return DEFAULT_WEB;
  const at = text.replace(/^localhost:/, "127.0.0.1:");
  const any = at.match(/^(.*):0$/);
  if (any) return { ...endpointFlag("--web", `${any[1]}:1`)!, port: 0 };
  return endpointFlag("--web", at);
}

/** A number flag's value; anything that is not a plain decimal is NaN, which the options refuse by the flag's name. */
function numberFlag(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
}

/** What the command line asks for: run with options, or print the help or the version. */
export type Invocation =
  | { readonly kind: "run"; readonly options: AgentOptions }
  | { readonly kind: "help" }
  | { readonly kind: "version" };

/** Turn command-line flags into {@linkcode AgentOptions} (or a request for help or the version). */
export function parseFlags(args: string[], signal: AbortSignal): Invocation {
  let values;
  try {
    values = parseCommandLine(withWebDefault(args), FLAGS);
  } catch (error) {
    if (error instanceof FlagError) throw new UsageError(error.message, { cause: error });
    throw error;
  }
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  if (values.log !== undefined && values["no-log"]) {
    throw new UsageError("--log and --no-log contradict each other");
  }
  if (values.advertise !== undefined && !parseIp(values.advertise).ok) {
    throw new UsageError(`Bad --advertise "${values.advertise}": not an IPv4 address`);
  }
  const dnsServer = endpointFlag("--dns-server", values["dns-server"]);
  const web = webFlag(values.web);
  const seconds = (text: string | undefined) => {
    const value = numberFlag(text);
    return value === undefined ? undefined : value * 1000;
  };
  const password = passwordFromEnvironment();
  return {
    kind: "run",
    options: {
      dataDir: values.data,
      address: values.address,
      nick: values.nick,
      port: numberFlag(values.port),
      node: endpointFlag("--node", values.node),
      advertise: values.advertise,
      dns: dnsServer ? systemDns({ server: dnsServer }) : undefined,
      logFile: values["no-log"] ? false : values.log,
      nickTimeoutMs: seconds(values["nick-timeout"]),
      maxChats: numberFlag(values["max-chats"]),
      groupPort: numberFlag(values["group-port"]),
      maxGroups: numberFlag(values["max-groups"]),
      maxGroupSize: numberFlag(values["max-group-size"]),
      frameTimeoutMs: seconds(values["frame-timeout"]),
      groupIdleMs: seconds(values["group-idle"]),
      maxPendingHandshakes: numberFlag(values["max-handshakes"]),
      maxPendingPerIp: numberFlag(values["max-handshakes-per-ip"]),
      relay: values.relay as AgentOptions["relay"],
      historyFile: values.history,
      web,
      signup: values.signup ?? false,
      replace: values.replace ?? false,
      requireEncryption: values["require-encryption"] ?? false,
      encryption: !(values["no-encryption"] ?? false),
      password,
      passwordOrigin: password === undefined ? undefined : "LUMI_PASSWORD",
      signal,
    },
  };
}

/** LUMI_PASSWORD, if set and readable (the agent is allowed to read only that variable). */
function passwordFromEnvironment(): string | undefined {
  try {
    return Deno.env.get("LUMI_PASSWORD") || undefined;
  } catch {
    return undefined;
  }
}

function exitCodeOf(error: unknown): number {
  if (error instanceof GaveUpError) return exitCodeOf(error.cause);
  if (error instanceof UsageError) return ExitCode.Usage;
  if (error instanceof SignedInElsewhereError) return ExitCode.SignedInElsewhere;
  if (error instanceof RegistrationError) return ExitCode.NotAUser;
  if (error instanceof NodeNotFoundError) return ExitCode.NodeNotFound;
  if (error instanceof NodeSilentError) return ExitCode.NodeSilent;
  if (error instanceof ListenError) return ExitCode.CannotListen;
  if (error instanceof AbortedError) return ExitCode.Interrupted;
  return ExitCode.Failure;
}

/** Stop on SIGINT/SIGTERM: the first deregisters and leaves, a second leaves at once. */
function stopOnSignals(controller: AbortController): void {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) {
    Deno.addSignalListener(signal, () => {
      if (controller.signal.aborted) Deno.exit(ExitCode.Interrupted);
      controller.abort();
    });
  }
}

/**
 * The options with the profile's data folder: logs go there, and a new
 * profile is written once the identity is known. A data folder that cannot
 * be made means no packet log (never in the current folder).
 */
async function withProfile(
  options: AgentOptions,
  profile: LoadedProfile,
  args: readonly string[],
): Promise<AgentOptions> {
  const dir = profile.dir;
  if (dir === undefined) {
    console.error("No data folder (HOME is not set): no profile, no packet log; see --data");
    return { ...options, logFile: options.logFile ?? false };
  }
  try {
    await ensureDataFolder(dir);
  } catch (error) {
    console.error(`Cannot use the data folder ${dir} (${(error as Error).message}): no profile`);
    return { ...options, dataDir: undefined, logFile: options.logFile ?? false };
  }
  const path = profile.path!;
  const saveProfile = profile.exists ? undefined : async (address: string, nick: string) => {
    const settings: Record<string, string | boolean> = { address, nick };
    for (const key of PROFILE_KEYS) {
      if (key === "address" || key === "nick") continue;
      if (key === "no-log") {
        if (args.includes("--no-log")) settings[key] = true;
        continue;
      }
      const value = flagValue(withWebDefault(args), key);
      if (value !== undefined) settings[key] = value;
    }
    try {
      return await createProfile(path, settings) ? clientText.profileCreated(path) : undefined;
    } catch (error) {
      return clientText.profileNotSaved(path, (error as Error).message);
    }
  };
  return { ...options, dataDir: dir, saveProfile };
}

async function main(args: string[]): Promise<number> {
  const controller = new AbortController();
  try {
    const profile = await loadProfile(args).catch((error) => {
      throw new UsageError((error as Error).message, { cause: error });
    });
    const invocation = parseFlags([...profile.args, ...args], controller.signal);
    if (invocation.kind === "help") {
      console.log(HELP);
      return ExitCode.Ok;
    }
    if (invocation.kind === "version") {
      console.log(versionLine("agent"));
      return ExitCode.Ok;
    }
    stopOnSignals(controller);
    await runAgent(await withProfile(invocation.options, profile, args));
    return ExitCode.Ok;
  } catch (error) {
    const code = exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    // A failure the user was shown and chose not to retry, or an interrupt: nothing more to say.
    if (error instanceof GaveUpError || error instanceof AbortedError) return code;
    if (code === ExitCode.Failure) console.error(error);
    else console.error(message);
    if (code === ExitCode.Usage) console.error("Try --help.");
    return code;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
