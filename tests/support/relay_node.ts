/**
 * A real node process with its relay on (`[relay]`), for the relay tests
 * and the relay bench: the configuration is written in the INI form, the
 * node is started with `--verbose` (the relay's session lines are debug and
 * info lines on stderr), and the relay's endpoint is read back.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { type ChildProcess, startProgram } from "./process.ts";

/** A node with a relay. */
export interface RelayNode {
  readonly process: ChildProcess;
  /** The node's UDP endpoint. */
  readonly endpoint: Endpoint;
  /** The relay's TCP endpoint, as offered to agents. */
  readonly relay: Endpoint;
}

/** Options of {@linkcode startRelayNode}. */
export interface RelayNodeOptions {
  /** The node's UDP listen address. Default: `127.0.0.1:0`. */
  readonly listen?: string;
  /** `[relay]` settings besides `enabled = yes`, e.g. `{ listen: "127.0.0.1:0" }`. */
  readonly relay?: Readonly<Record<string, string | number>>;
  /** A command prefix that runs the node elsewhere (e.g. `ip netns exec <ns>`). */
  readonly wrap?: readonly string[];
  /** The static map of other domains' nodes (`[domains]`: domain → `ip:port`). Default: none. */
  readonly domains?: Readonly<Record<string, string>>;
}

/** Start a node of `domain` with `users` and its relay on, in `dir`. */
export async function startRelayNode(
  dir: string,
  domain: string,
  users: readonly string[],
  options: RelayNodeOptions = {},
): Promise<RelayNode> {
  const config = `${dir}/nodelumi-${domain}.cfg`;
  const relay = { listen: "127.0.0.1:0", ...options.relay };
  await Deno.writeTextFile(
    config,
    [
      `domain = ${domain}`,
      "[relay]",
      "enabled = yes",
      ...Object.entries(relay).map(([key, value]) => `${key} = ${value}`),
      ...(options.domains
        ? ["[domains]", ...Object.entries(options.domains).map(([d, at]) => `${d} = ${at}`)]
        : []),
      "[users]",
      ...users,
      "",
    ].join("\n"),
  );
  const process = await startProgram(
    "node",
    [
      "--config",
      config,
      "--listen",
      options.listen ?? "127.0.0.1:0",
      "--no-log",
      "--no-state",
      "--verbose",
    ],
    { cwd: dir, name: `node ${domain}`, ...(options.wrap && { wrap: options.wrap }) },
  );
  const udp = await process.waitFor(/listening on (\d+\.\d+\.\d+\.\d+):(\d+)/);
  const tcp = await process.waitFor(/^Relay on TCP (\d+\.\d+\.\d+\.\d+):(\d+)$/);
  return {
    process,
    endpoint: { ip: udp[1]!, port: Number(udp[2]) },
    relay: { ip: tcp[1]!, port: Number(tcp[2]) },
  };
}
