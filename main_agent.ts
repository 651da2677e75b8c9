/**
 * The LUMI agent program: parses flags, calls {@linkcode runAgent}, maps its
 * errors to exit codes. Run with `deno task agent --help`.
 *
 * @module
 */

import { parseArgs } from "#cli";
import {
  type AgentOptions,
  ListenError,
  NodeNotFoundError,
  NodeSilentError,
  RegistrationError,
  runAgent,
  UsageError,
} from "./lib/agent/mod.ts";
import { parseEndpoint, parseIp } from "./lib/plumi/address.ts";
import { systemDns } from "./lib/transport/dns.ts";

/** Exit codes of the agent. */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  NotAUser: 3,
  NodeNotFound: 4,
  NodeSilent: 5,
  CannotListen: 6,
} as const;

const HELP = `LUMI agent: chat with other @MI users through the node of your domain.

Usage: deno task agent [options]

Options:
  --address NAME@DOMAIN  your @MI address, e.g. laura@bb.com (asked on a terminal if missing)
  --nick NICK            the nickname others see (asked on a terminal if missing)
  --port PORT            TCP port for conversations; 0 picks a free one (default 0)
  --node IP:PORT         the node to register with (default: found by DNS: SRV
                         _plumi._udp.DOMAIN, else the A record of DOMAIN, port 3344)
  --advertise IP         the IP peers connect to (default: this host's address towards the node)
  --dns-server IP:PORT   DNS server used to find the node (default: the system's)
  --log FILE             packet log file (default: NAME@DOMAIN.log in the working directory)
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
  --signup               create the account NAME@DOMAIN on the node first (if it allows sign-up)
  --help                 show this help

Password: a user with a password logs in with a proof (the password never
crosses the network). It is read from the environment variable LUMI_PASSWORD,
or asked (hidden) on a terminal when the node asks for it.

Once registered, type an address to call someone, then type lines to chat.
/call, /list, /switch and /close handle several conversations; /group, /invite
and /leave group chats; /add, /del, /buddies and /online buddies and presence
(with an extended node). /exit ends the current conversation, /quit (or Ctrl-C,
or the end of the input) leaves, /help lists every command. With stdin piped,
commands are read one per line.

Exit codes: 0 done, 1 unexpected failure, 2 bad options, 3 not a user of the
domain, 4 node not found, 5 node does not respond, 6 cannot listen.`;

function endpointFlag(name: string, text: string | undefined) {
  if (text === undefined) return undefined;
  const parsed = parseEndpoint(text);
  if (!parsed.ok) throw new UsageError(`Bad ${name}: ${parsed.message}`);
  return parsed.value;
}

function numberFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(text)) throw new UsageError(`Bad ${name} "${text}": not a number`);
  return Number(text);
}

/** Turn command-line flags into {@linkcode AgentOptions}; `null` for `--help`. */
export function parseFlags(args: string[], signal: AbortSignal): AgentOptions | null {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
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
        signup: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message, { cause: error });
  }
  if (values.help) return null;
  if (values.log !== undefined && values["no-log"]) {
    throw new UsageError("--log and --no-log contradict each other");
  }
  if (values.advertise !== undefined && !parseIp(values.advertise).ok) {
    throw new UsageError(`Bad --advertise "${values.advertise}": not an IPv4 address`);
  }
  const dnsServer = endpointFlag("--dns-server", values["dns-server"]);
  const nickTimeout = numberFlag("--nick-timeout", values["nick-timeout"]);
  const frameTimeout = numberFlag("--frame-timeout", values["frame-timeout"]);
  const groupIdle = numberFlag("--group-idle", values["group-idle"]);
  return {
    address: values.address,
    nick: values.nick,
    port: numberFlag("--port", values.port),
    node: endpointFlag("--node", values.node),
    advertise: values.advertise,
    dns: dnsServer ? systemDns({ server: dnsServer }) : undefined,
    logFile: values["no-log"] ? false : values.log,
    nickTimeoutMs: nickTimeout === undefined ? undefined : nickTimeout * 1000,
    maxChats: numberFlag("--max-chats", values["max-chats"]),
    groupPort: numberFlag("--group-port", values["group-port"]),
    maxGroups: numberFlag("--max-groups", values["max-groups"]),
    maxGroupSize: numberFlag("--max-group-size", values["max-group-size"]),
    frameTimeoutMs: frameTimeout === undefined ? undefined : frameTimeout * 1000,
    groupIdleMs: groupIdle === undefined ? undefined : groupIdle * 1000,
    maxPendingHandshakes: numberFlag("--max-handshakes", values["max-handshakes"]),
    maxPendingPerIp: numberFlag("--max-handshakes-per-ip", values["max-handshakes-per-ip"]),
    signup: values.signup ?? false,
    password: passwordFromEnvironment(),
    signal,
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
  if (error instanceof UsageError) return ExitCode.Usage;
  if (error instanceof RegistrationError) return ExitCode.NotAUser;
  if (error instanceof NodeNotFoundError) return ExitCode.NodeNotFound;
  if (error instanceof NodeSilentError) return ExitCode.NodeSilent;
  if (error instanceof ListenError) return ExitCode.CannotListen;
  return ExitCode.Failure;
}

/** Stop on SIGINT/SIGTERM: the first deregisters and leaves, a second leaves at once. */
function stopOnSignals(controller: AbortController): void {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) {
    Deno.addSignalListener(signal, () => {
      if (controller.signal.aborted) Deno.exit(130);
      controller.abort();
    });
  }
}

async function main(args: string[]): Promise<number> {
  const controller = new AbortController();
  try {
    const options = parseFlags(args, controller.signal);
    if (options === null) {
      console.log(HELP);
      return ExitCode.Ok;
    }
    stopOnSignals(controller);
    await runAgent(options);
    return ExitCode.Ok;
  } catch (error) {
    const code = exitCodeOf(error);
    const message = error instanceof Error ? error.message : String(error);
    if (code === ExitCode.Failure) console.error(error);
    else console.error(message);
    if (code === ExitCode.Usage) console.error("Try --help.");
    return code;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
