/**
 * DNS look-ups for finding nodes, as the system resolver makes them: the
 * hosts file first, then a small stub resolver over UDP that keeps record
 * TTLs (which `Deno.resolveDns` does not report) and has short, bounded
 * timeouts, so an unreachable DNS server costs a caller at most
 * `timeoutMs × attempts`.
 *
 * @module
 */

import { lookupHosts, parseHosts } from "../dns/hosts.ts";
import { decodeDnsResponse, type DnsRecord, encodeDnsQuery, RecordType } from "../dns/message.ts";
import type { Endpoint } from "../plumi/address.ts";
import { bindUdp } from "./udp.ts";

/** An SRV record. */
export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** Target host name, without the trailing dot. */
  readonly target: string;
}

/** Records of one look-up and how long they may be cached. */
export interface DnsAnswer<T> {
  /** Empty when the name or the records do not exist. */
  readonly records: T[];
  /** Seconds the answer (or its absence) may be cached. */
  readonly ttl: number;
}

/** The DNS queries LUMI needs. */
export interface DnsClient {
  /** IPv4 addresses of `name` (from the hosts file first, when the client reads one). */
  a(name: string): Promise<DnsAnswer<string>>;
  /** SRV records of `name` (e.g. `_plumi._udp.bb.com`). */
  srv(name: string): Promise<DnsAnswer<SrvRecord>>;
  /**
   * The addresses the hosts file gives `name`, `[]` when none: a name listed
   * there is not looked up in DNS at all. Absent when the client reads no hosts file.
   */
  hosts?(name: string): Promise<string[]>;
}

/** The DNS server did not answer, or answered with an error. */
export class DnsError extends Error {
  /** True when the server did not answer at all (rather than answering with an error). */
  readonly timedOut: boolean;

  constructor(message: string, options?: ErrorOptions & { timedOut?: boolean }) {
    super(message, options);
    this.name = "DnsError";
    this.timedOut = options?.timedOut ?? false;
  }
}

/** Options of {@linkcode udpDns}. */
export interface UdpDnsOptions {
  /** The DNS server. */
  readonly server: Endpoint;
  /** Wait for an answer this long per attempt, in ms. Default: 700. */
  readonly timeoutMs?: number;
  /** Attempts per query. Default: 2. */
  readonly attempts?: number;
  /** TTL used for "no such name" when the server gives no SOA, in s. Default: 5. */
  readonly negativeTtl?: number;
}

const RCODE_NXDOMAIN = 3;

/** A stub resolver sending queries to one DNS server over UDP. Needs `--allow-net`. */
export function udpDns(options: UdpDnsOptions): DnsClient {
  const timeoutMs = options.timeoutMs ?? 700;
  const attempts = options.attempts ?? 2;
  const negativeTtl = options.negativeTtl ?? 5;
  const server = options.server;
  const bindIp = server.ip.startsWith("127.") ? "127.0.0.1" : "0.0.0.0";

  async function query(
    name: string,
    type: RecordType,
  ): Promise<{ answers: readonly DnsRecord[]; ttl: number }> {
    const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    const request = encodeDnsQuery(id, name, type);
    await using socket = bindUdp({ ip: bindIp, port: 0 });
    // One receive is kept pending across attempts: a late answer to the first still counts.
    let next = socket.receive();
    for (let attempt = 0; attempt < attempts; attempt++) {
      await socket.send(request, server);
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const datagram = await Promise.race([
          next,
          new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), left)),
        ]);
        clearTimeout(timer);
        if (!datagram) break;
        next = socket.receive();
        if (datagram.from.ip !== server.ip || datagram.from.port !== server.port) continue;
        const decoded = decodeDnsResponse(datagram.bytes);
        if (!decoded.ok || decoded.response.id !== id) continue;
        const { rcode, answers } = decoded.response;
        if (rcode === RCODE_NXDOMAIN) {
          return { answers: [], ttl: decoded.response.negativeTtl ?? negativeTtl };
        }
        if (rcode !== 0) {
          throw new DnsError(
            `DNS server ${server.ip}:${server.port} answered error ${rcode} for ${name}`,
          );
        }
        const relevant = answers.filter((r) => r.type === (type === RecordType.A ? "A" : "SRV"));
        const ttl = relevant.length
          ? Math.min(...relevant.map((r) => r.ttl))
          : decoded.response.negativeTtl ?? negativeTtl;
        return { answers: relevant, ttl };
      }
    }
    throw new DnsError(
      `DNS server ${server.ip}:${server.port} does not answer (${attempts} tries for ${name})`,
      { timedOut: true },
    );
  }

  return {
    async a(name) {
      const { answers, ttl } = await query(name, RecordType.A);
      return { records: answers.flatMap((r) => r.type === "A" ? [r.ip] : []), ttl };
    },
    async srv(name) {
      const { answers, ttl } = await query(name, RecordType.SRV);
      return { records: answers.flatMap((r) => r.type === "SRV" ? [r.srv] : []), ttl };
    },
  };
}

/** Read the first `nameserver` of a resolv.conf text. */
export function parseResolvConf(text: string): Endpoint | undefined {
  for (const line of text.split("\n")) {
    const match = line.match(/^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/);
    if (match) return { ip: match[1]!, port: 53 };
  }
  return undefined;
}

/** Cache time for answers of `Deno.resolveDns`, which reports no TTL, in s. */
const FALLBACK_TTL = 60;

/** Where the system's hosts file is. */
export const DEFAULT_HOSTS_PATH = "/etc/hosts";
/** A hosts file larger than this is not read (and resolves nothing). */
const MAX_HOSTS_BYTES = 16 * 1024 * 1024;
/** How long the hosts file's answers may be cached, in s: an edit is seen this soon. */
export const HOSTS_TTL = 5;

/**
 * The hosts file at `path`, read again whenever it changed (its size or
 * modification time). A file that cannot be read (missing, no permission,
 * not a regular file, too large) resolves nothing. Needs `--allow-read=<path>`.
 */
export function hostsFile(path: string = DEFAULT_HOSTS_PATH): (name: string) => Promise<string[]> {
  let table = new Map<string, string[]>();
  let seen = "";
  return async (name) => {
    try {
      const info = await Deno.stat(path);
      const version = `${info.size} ${info.mtime?.getTime()}`;
      if (version !== seen) {
        table = info.isFile && info.size <= MAX_HOSTS_BYTES
          ? parseHosts(await Deno.readTextFile(path))
          : new Map();
        seen = version;
      }
    } catch {
      table = new Map();
      seen = "";
    }
    return lookupHosts(table, name);
  };
}

/** `dns` with the hosts file first: a name listed there is answered from it, never asked of DNS. */
export function withHosts(dns: DnsClient, hosts: (name: string) => Promise<string[]>): DnsClient {
  return {
    async a(name) {
      const listed = await hosts(name);
      return listed.length > 0 ? { records: listed, ttl: HOSTS_TTL } : await dns.a(name);
    },
    srv: (name) => dns.srv(name),
    hosts,
  };
}

/** Options of {@linkcode systemDns}. */
export interface SystemDnsOptions {
  /** The DNS server. Default: the first `nameserver` of /etc/resolv.conf. */
  readonly server?: Endpoint;
  /** The hosts file, read before DNS; `false` for none. Default: /etc/hosts. */
  readonly hostsPath?: string | false;
}

/**
 * The system's resolver: the hosts file (needs `--allow-read=/etc/hosts`),
 * then DNS — `server`, or the first nameserver of /etc/resolv.conf (needs
 * `--allow-read=/etc/resolv.conf`), through {@linkcode udpDns}; or, where
 * that file cannot be read (Windows, no permission), `Deno.resolveDns` with
 * a fixed cache time.
 *
 * @example
 * ```ts
 * const dns = systemDns();
 * await dns.a("localhost"); // { records: ["127.0.0.1"], ttl: 5 }, from /etc/hosts
 * ```
 */
export function systemDns(options: SystemDnsOptions = {}): DnsClient {
  const hostsPath = options.hostsPath ?? DEFAULT_HOSTS_PATH;
  const dns = options.server ? udpDns({ server: options.server }) : resolvConfDns();
  return hostsPath === false ? dns : withHosts(dns, hostsFile(hostsPath));
}

/** DNS through the first nameserver of /etc/resolv.conf, else `Deno.resolveDns`. */
function resolvConfDns(): DnsClient {
  let server: Endpoint | undefined;
  try {
    server = parseResolvConf(Deno.readTextFileSync("/etc/resolv.conf"));
  } catch {
    server = undefined;
  }
  if (server) return udpDns({ server });
  const guard = async <T>(name: string, query: () => Promise<T[]>): Promise<T[]> => {
    try {
      return await query();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return [];
      throw new DnsError(`Cannot resolve ${name}: ${error}`, { cause: error });
    }
  };
  return {
    a: async (name) => ({
      records: await guard(name, () => Deno.resolveDns(name, "A")),
      ttl: FALLBACK_TTL,
    }),
    srv: async (name) => ({
      records: (await guard(name, () => Deno.resolveDns(name, "SRV")))
        .map((r) => ({ ...r, target: r.target.replace(/\.$/, "") })),
      ttl: FALLBACK_TTL,
    }),
  };
}
