/**
 * A real DNS server for federation tests: a separate process
 * (`dns_server_main.ts`, on the npm `dns2` package) serving A and SRV
 * records of test domains over UDP on loopback.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { ChildProcess } from "./process.ts";

/** Records the server answers with. */
export interface Zone {
  /** `name → IPv4` A records. */
  readonly a?: Record<string, string>;
  /** SRV records, named like `_plumi._udp.<domain>`. */
  readonly srv?: Array<
    { name: string; target: string; port: number; priority: number; weight: number }
  >;
  /** Unknown names under these domains get NXDOMAIN, others REFUSED. Default: `["test"]`. */
  readonly localDomains?: string[];
  /** TTL of the records, in seconds. Default: 60. */
  readonly ttl?: number;
}

/** A running DNS server. */
export interface DnsServer extends AsyncDisposable {
  readonly endpoint: Endpoint;
  /** One `query[TYPE] name` line per query received so far. */
  readonly log: readonly string[];
}

/** Start a DNS server serving `zone` on 127.0.0.1 and wait until it listens. */
export async function startDnsServer(zone: Zone): Promise<DnsServer> {
  const script = new URL("./dns_server_main.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-sys",
      script,
      JSON.stringify(zone),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const server = new ChildProcess("DNS server", child, false);
  const [, ip, port] = await server.waitFor(/DNS server listening on ([\d.]+):(\d+)/);
  return {
    endpoint: { ip: ip!, port: Number(port) },
    get log() {
      return server.lines.filter((l) => l.startsWith("query["));
    },
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}
