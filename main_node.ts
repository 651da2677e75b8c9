/**
 * The LUMI node: one per domain. Parses flags and hands over to `runNode`.
 *
 * ```sh
 * deno task node --config nodelumi.cfg --listen 127.0.0.1:3344
 * ```
 *
 * @module
 */

import { getLogger } from "#log";
import { EXIT_USAGE, FlagError, parseFlags, versionLine } from "./lib/flags.ts";
import { setupLogging } from "./lib/logging.ts";
import { ConfigError } from "./lib/node/config.ts";
import { NodeStartError, runNode } from "./lib/node/run.ts";
import { StateError } from "./lib/node/state.ts";
import { StoreError } from "./lib/node/store.ts";
import { parseEndpoint } from "./lib/plumi/address.ts";

const USAGE = `LUMI node: the locator of one domain (PLUMI over UDP).

Usage: main_node.ts [options]

Options:
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
  --verbose            print every dropped or malformed packet on stderr
  --version            show the program's and Deno's versions
  -h, --help           show this help

Console commands (type them while the node runs; "help" lists them):
  list, online, add <user>, del <user>, reload, stats, exit

Signals: SIGINT and SIGTERM stop the node cleanly; SIGHUP is ignored (logged).

Exit codes: 0 stopped cleanly, 2 bad configuration or cannot start (also: another node
uses the same files), 64 bad flags.`;

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

async function main(args: string[]): Promise<number> {
  const values = parseFlags(args, {
    config: { type: "string" },
    listen: { type: "string" },
    log: { type: "string" },
    "no-log": { type: "boolean" },
    state: { type: "string" },
    "no-state": { type: "boolean" },
    database: { type: "string" },
    "no-database": { type: "boolean" },
    "dns-server": { type: "string" },
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
  await setupLogging(values.verbose ? "debug" : "warning");
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, () => stop.abort());
    } catch {
      // SIGTERM does not exist on Windows.
    }
  }
  try {
    // A closed terminal or an operator's habit must not kill the node (nor lose its state).
    Deno.addSignalListener("SIGHUP", () => {
      getLogger(["lumi", "node"]).warn("SIGHUP received: ignored (the node keeps running)");
    });
  } catch {
    // No SIGHUP on Windows.
  }
  const listen = endpointFlag("listen", values.listen);
  const dnsServer = endpointFlag("dns-server", values["dns-server"]);
  const interactive = Deno.stdin.isTerminal();
  await runNode({
    ...(values.config !== undefined && { configPath: values.config }),
    ...(listen && { listen }),
    ...(dnsServer && { dnsServer }),
    ...(values["no-log"]
      ? { logPath: false }
      : values.log !== undefined && { logPath: values.log }),
    ...(values["no-state"]
      ? { statePath: false }
      : values.state !== undefined && { statePath: values.state }),
    ...(values["no-database"]
      ? { databasePath: false }
      : values.database !== undefined && { databasePath: values.database }),
    input: Deno.stdin.readable,
    prompt: interactive,
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
