/**
 * The LUMI node: one per domain. Parses flags and hands over to `runNode`.
 *
 * ```sh
 * deno task node --config nodelumi.cfg --listen 127.0.0.1:3344
 * deno task ctl add marta          # to the node running in this folder
 * ```
 *
 * @module
 */

import { EXIT_USAGE, FlagError, parseFlags, versionLine } from "./lib/flags.ts";
import { setupLogging } from "./lib/logging.ts";
import { ConfigError } from "./lib/node/config.ts";
import { checkNode, reportCheck } from "./lib/node/ctl_check.ts";
import { CTL_EXIT, runCtl } from "./lib/node/ctl_client.ts";
import { NodeStartError, runNode } from "./lib/node/run.ts";
import { StateError } from "./lib/node/state.ts";
import { StoreError } from "./lib/node/store.ts";
import { parseEndpoint } from "./lib/plumi/address.ts";

const USAGE = `LUMI node: the locator of one domain (PLUMI over UDP).

Usage: main_node.ts [options]
       main_node.ts ctl [--dir FOLDER] [--config FILE] [--json] [--yes] <command> [args]

Options:
  --dir FOLDER         work in this folder (its files, its control socket) instead of the
                       current one; it must lie within what the permissions allow
  --config FILE        configuration file (default: nodelumi.cfg)
  --listen IP:PORT     UDP address to listen on (default: the file's, else 0.0.0.0:3344)
  --log FILE           packet log (default: nodelumi-<domain>.log)
  --no-log             do not write a packet log
  --state FILE         where registrations are kept across restarts
                       (default: nodelumi-<domain>.state)
  --no-state           do not keep registrations across restarts
  --database FILE      accounts, passwords and buddy lists (SQLite; default: nodelumi-<domain>.db)
  --no-database        no account database: speak only the original protocol
  --dns-server IP:PORT DNS server for finding other domains' nodes (default: the system's)
  --ops-log FILE       operational log: start, stop, reloads, bans, errors
                       (default: the file's [log] ops, else none)
  --log-format FORMAT  the operational log's lines: text or json (default: text)
  --no-control         do not open the control socket (nodelumi.ctl beside nodelumi.cfg)
  --check              check the configuration and every file the node would open,
                       print what was found and exit (0 good, 2 a problem); start nothing
  --verbose            print every dropped or malformed packet on stderr
  --version            show the program's and Deno's versions
  -h, --help           show this help

Console commands (type them while the node runs; "help" lists them):
  list, online, add <user>, del <user>, passwd, nopasswd, buddies, reload, stats, exit

Control (from another terminal, a script, a service manager; same folder as the node):
  main_node.ts ctl list | online | add <user>... | del <user>... | passwd <user> [password]
                   | nopasswd <user> | buddies <user> | stats | reload
  --json gives the answer as JSON; --yes does not ask before del; passwd without a
  password asks for it twice, hidden (on a terminal only).
  Exit codes of ctl: 0 done, 1 refused or failed (the message says why), 3 no node
  running in this folder, 4 no answer from the node (or it runs without a control
  socket), 64 unknown command or bad usage. See docs/OPERATIONS.md.

Signals: SIGINT and SIGTERM stop the node cleanly; SIGHUP reloads the configuration
and reopens the logs (as ctl reload).

Exit codes: 0 stopped cleanly (--check: all good), 2 bad configuration or cannot start
(also: another node uses the same files), 64 bad flags.`;

class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function endpointFlag(flag: string, value: string | undefined) {
  if (value === undefined) return undefined;
  const parsed = parseEndpoint(value, { allowPortZero: flag === "listen" });
  if (!parsed.ok) throw new UsageError(`--${flag}: ${parsed.message} (expected IPv4:port)`);
  return parsed.value;
}

/** `--dir`: work in `folder` (the permissions stay those given at start, for the folder started in). */
function changeFolder(folder: string): void {
  try {
    Deno.chdir(folder);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "it does not exist"
      : error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ? "outside what this program may read (run it from a folder that holds it)"
      : String(error);
    throw new UsageError(`--dir ${folder}: ${why}`);
  }
}

async function ctl(args: string[]): Promise<number> {
  const words: string[] = [];
  const flagArgs: string[] = [];
  // Flags before the command are ctl's; after it, only --json and --yes (a password may start with -).
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if ((arg === "--config" || arg === "--dir") && words.length === 0) {
      flagArgs.push(arg, args[++i] ?? "");
    } else if (["--json", "--yes", "-y", "--help", "-h"].includes(arg)) flagArgs.push(arg);
    else words.push(arg);
  }
  const values = parseFlags(flagArgs, {
    dir: { type: "string" },
    config: { type: "string" },
    json: { type: "boolean" },
    yes: { type: "boolean", short: "y" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.dir !== undefined) changeFolder(values.dir);
  return await runCtl(words, {
    ...(values.config !== undefined && { configPath: values.config }),
    json: values.json ?? false,
    yes: values.yes ?? false,
  });
}

async function main(args: string[]): Promise<number> {
  if (args[0] === "ctl") {
    try {
      return await ctl(args.slice(1));
    } catch (error) {
      if (!(error instanceof FlagError || error instanceof UsageError)) throw error;
      console.error(`${error.message}\nTry --help.`);
      return CTL_EXIT.usage;
    }
  }
  const values = parseFlags(args, {
    dir: { type: "string" },
    config: { type: "string" },
    listen: { type: "string" },
    log: { type: "string" },
    "no-log": { type: "boolean" },
    state: { type: "string" },
    "no-state": { type: "boolean" },
    database: { type: "string" },
    "no-database": { type: "boolean" },
    "dns-server": { type: "string" },
    "ops-log": { type: "string" },
    "log-format": { type: "string" },
    "no-control": { type: "boolean" },
    check: { type: "boolean" },
    verbose: { type: "boolean" },
    version: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.version) {
    console.log(versionLine("node"));
    return 0;
  }
  if (values.dir !== undefined) changeFolder(values.dir);
  const format = values["log-format"];
  if (format !== undefined && format !== "text" && format !== "json") {
    throw new UsageError(`--log-format: "${format}" is not text or json`);
  }
  const listen = endpointFlag("listen", values.listen);
  const dnsServer = endpointFlag("dns-server", values["dns-server"]);
  const files = {
    ...(values.config !== undefined && { configPath: values.config }),
    ...(values["no-log"]
      ? { logPath: false as const }
      : values.log !== undefined && { logPath: values.log }),
    ...(values["no-state"]
      ? { statePath: false as const }
      : values.state !== undefined && { statePath: values.state }),
    ...(values["no-database"]
      ? { databasePath: false as const }
      : values.database !== undefined && { databasePath: values.database }),
    ...(values["ops-log"] !== undefined && { opLogPath: values["ops-log"] }),
  };
  if (values.check) return reportCheck(await checkNode({ ...files, ...(listen && { listen }) }));
  await setupLogging(values.verbose ? "debug" : "warning");
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, () => stop.abort());
    } catch {
      // SIGTERM does not exist on Windows.
    }
  }
  // SIGHUP (logrotate, `systemctl reload`) reloads; it never stops the node nor loses its state.
  const reloads = new EventTarget();
  try {
    Deno.addSignalListener("SIGHUP", () => reloads.dispatchEvent(new Event("reload")));
  } catch {
    // No SIGHUP on Windows.
  }
  const interactive = Deno.stdin.isTerminal();
  await runNode({
    ...files,
    ...(listen && { listen }),
    ...(dnsServer && { dnsServer }),
    ...(format !== undefined && { opLogFormat: format }),
    ...(values["no-control"] && { control: false }),
    reloads,
    input: Deno.stdin.readable,
    prompt: interactive,
    terminal: interactive && Deno.stdout.isTerminal(),
    color: Deno.stdout.isTerminal() && !Deno.noColor,
    signal: stop.signal,
  });
  return 0;
}

try {
  Deno.exit(await main(Deno.args));
} catch (error) {
  if (error instanceof UsageError || error instanceof FlagError) {
    console.error(`${error.message}\nTry --help.`);
    Deno.exit(EXIT_USAGE);
  }
  if (
    error instanceof ConfigError || error instanceof StateError ||
    error instanceof NodeStartError || error instanceof StoreError
  ) {
    console.error(error.message);
    Deno.exit(2);
  }
  throw error;
}
