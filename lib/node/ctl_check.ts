/**
 * `main_node.ts --check`: validate the configuration and every file the
 * node would open, say what was found, and exit 0 (all good) or 2 —
 * without starting the node, binding a socket or changing a file.
 *
 * @module
 */

import { type Endpoint, formatEndpoint } from "../plumi/address.ts";
import { connectUnix } from "../transport/unix.ts";
import { loadConfig } from "./config_file.ts";
import { ConfigError } from "./config.ts";
import { controlPath } from "./ctl.ts";
import { checkRegularFile, FileKindError } from "./regular_file.ts";

/** What the flags say, over the configuration file (as `runNode` takes them). */
export interface CheckOptions {
  readonly configPath?: string;
  readonly listen?: Endpoint;
  readonly logPath?: string | false;
  readonly statePath?: string | false;
  readonly databasePath?: string | false;
  readonly opLogPath?: string | false;
  /** The machine's name, the domain when the file names none. Default: `Deno.hostname`. */
  readonly hostname?: () => string;
}

/** One finding: fine, or a problem that would stop the node (or make it misbehave). */
export interface Finding {
  readonly ok: boolean;
  readonly text: string;
}

const SQLITE_MAGIC = "SQLite format 3\0";

/** Check the configuration and files; the findings in order, problems marked. */
export async function checkNode(options: CheckOptions = {}): Promise<Finding[]> {
  const found: Finding[] = [];
  const good = (text: string) => found.push({ ok: true, text });
  const bad = (text: string) => found.push({ ok: false, text });
  const configPath = options.configPath ?? "nodelumi.cfg";
  let config;
  try {
    ({ config } = await loadConfig(configPath));
  } catch (error) {
    bad(error instanceof ConfigError ? error.message : `${configPath}: ${error}`);
    return found;
  }
  const domain = config.domain ?? (options.hostname ?? Deno.hostname)();
  good(
    `${configPath}: ${config.format === "ini" ? "INI" : "original"} form, domain ${domain}` +
      `${config.domain ? "" : " (the machine's name)"}, ${config.users.length} users`,
  );
  good(
    `listen: UDP ${
      formatEndpoint(options.listen ?? config.listen ?? { ip: "0.0.0.0", port: 3344 })
    }`,
  );
  if (config.dnsServer) good(`dns-server: ${formatEndpoint(config.dnsServer)}`);
  if (config.domains.size > 0) good(`[domains]: ${config.domains.size} static entries`);
  if (config.metrics) good(`[metrics]: http://${formatEndpoint(config.metrics.listen)}/metrics`);
  const files: [string, string | false, number][] = [
    ["packet log", options.logPath ?? config.log ?? `nodelumi-${domain}.log`, Infinity],
    ["state", options.statePath ?? config.state ?? `nodelumi-${domain}.state`, 512 * 2 ** 20],
    [
      "account database",
      options.databasePath ?? config.accounts?.database ?? `nodelumi-${domain}.db`,
      Infinity,
    ],
    ["operational log", options.opLogPath ?? config.logging?.ops ?? false, Infinity],
  ];
  for (const [what, path, max] of files) {
    if (path === false) {
      good(`${what}: off`);
      continue;
    }
    found.push(await checkFile(what, path, max));
  }
  if (config.logging?.maxSize) {
    good(
      `packet log rotation: at ${config.logging.maxSize} bytes, ${config.logging.keep ?? 5} kept`,
    );
  }
  for (const path of [configPath, ...files.map(([, p]) => p)]) {
    if (typeof path !== "string") continue;
    const holder = await lockHolder(`${path}.lock`);
    // Not a fault of the configuration: a second node would not start, a restart would.
    if (holder) {
      good(`a node is running on these files (${holder}): another one would not start beside it`);
      break;
    }
  }
  const ctl = controlPath(configPath);
  const live = await connectUnix(ctl).then((c) => (c.close(), true), () => false);
  good(`control socket: ${ctl}${live ? " (a node answers on it now)" : ""}`);
  return found;
}

async function checkFile(what: string, path: string, max: number): Promise<Finding> {
  try {
    const size = await checkRegularFile(path, max);
    const exists = await Deno.stat(path).then(() => true, () => false);
    if (!exists) {
      const slash = path.lastIndexOf("/");
      const folder = slash >= 0 ? path.slice(0, slash) || "/" : ".";
      const dir = await Deno.stat(folder).catch(() => undefined);
      if (!dir?.isDirectory) {
        return { ok: false, text: `${what}: ${path}: its folder ${folder} does not exist` };
      }
      return { ok: true, text: `${what}: ${path} (will be created)` };
    }
    if (what === "account database" && size > 0) {
      const head = new Uint8Array(16);
      using file = await Deno.open(path, { read: true });
      await file.read(head);
      if (new TextDecoder().decode(head) !== SQLITE_MAGIC) {
        return { ok: false, text: `${what}: ${path} is not an SQLite database` };
      }
    }
    return { ok: true, text: `${what}: ${path} (${size} bytes)` };
  } catch (error) {
    const why = error instanceof FileKindError
      ? error.reason
      : error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : String(error);
    return { ok: false, text: `${what}: ${path}: ${why}` };
  }
}

/** `pid N` when a live process holds the lock file at `path`, else `undefined`. */
export async function lockHolder(path: string): Promise<string | undefined> {
  let file: Deno.FsFile;
  try {
    // Read-only: --check creates nothing. A shared lock fails while a node holds its exclusive one.
    file = await Deno.open(path, { read: true });
  } catch {
    return undefined;
  }
  try {
    if (await file.tryLock(false)) {
      await file.unlock();
      return undefined;
    }
    const text = new TextDecoder().decode(await Deno.readFile(path)).trim();
    return /^\d+$/.test(text) ? `pid ${text}` : "pid unknown";
  } finally {
    file.close();
  }
}

/** Print the findings; the exit code of `--check`: 0 all good, 2 a problem. */
export function reportCheck(found: readonly Finding[], write = console.log): number {
  for (const { ok, text } of found) write(`${ok ? "ok     " : "PROBLEM"}  ${text}`);
  const problems = found.filter((f) => !f.ok).length;
  write(
    problems === 0
      ? "Configuration OK."
      : `${problems} problem${problems > 1 ? "s" : ""}: the node would not start as it is.`,
  );
  return problems === 0 ? 0 : 2;
}
