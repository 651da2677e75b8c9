/**
 * DNS look-ups: the seam over `Deno.resolveDns`.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";

/** An SRV record. */
export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}

/** The DNS queries LUMI needs. A name that does not exist resolves to `[]`. */
export interface DnsClient {
  /** IPv4 addresses of `name`. */
  a(name: string): Promise<string[]>;
  /** SRV records of `name` (e.g. `_plumi._udp.bb.com`). */
  srv(name: string): Promise<SrvRecord[]>;
}

/** Options of {@linkcode systemDns}. */
export interface SystemDnsOptions {
  /** Send queries to this server instead of the system's resolver. Default: the system's. */
  readonly server?: Endpoint;
}

function isNotFound(error: unknown): boolean {
  return error instanceof Deno.errors.NotFound;
}

/** A DNS client on `Deno.resolveDns`. Needs `--allow-net`. */
export function systemDns(options: SystemDnsOptions = {}): DnsClient {
  const query = options.server
    ? { nameServer: { ipAddr: options.server.ip, port: options.server.port } }
    : {};
  return {
    async a(name) {
      try {
        return await Deno.resolveDns(name, "A", query);
      } catch (error) {
        if (isNotFound(error)) return [];
        throw error;
      }
    },
    async srv(name) {
      try {
        return await Deno.resolveDns(name, "SRV", query);
      } catch (error) {
        if (isNotFound(error)) return [];
        throw error;
      }
    },
  };
}
