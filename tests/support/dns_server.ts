/**
 * A real DNS server for federation tests: dnsmasq on loopback, serving
 * A and SRV records of test domains (installed by `.ci/run`).
 *
 * @module
 */

import { bindUdp } from "../../lib/transport/udp.ts";
import type { Endpoint } from "../../lib/plumi/address.ts";

/** Records the server answers with. */
export interface Zone {
  /** `name → IPv4` A records. */
  readonly a?: Record<string, string>;
  /** SRV records: `_plumi._udp.<domain>` style names. */
  readonly srv?: Array<
    { name: string; target: string; port: number; priority: number; weight: number }
  >;
  /** Names under these domains that are not listed get NXDOMAIN. Default: `["test"]`. */
  readonly localDomains?: string[];
  /** TTL of the records, in seconds. Default: 60. */
  readonly ttl?: number;
}

const CANDIDATES = ["dnsmasq", "/usr/sbin/dnsmasq", "/usr/local/sbin/dnsmasq"];

async function findDnsmasq(): Promise<string> {
  for (const path of CANDIDATES) {
    try {
      const { success } = await new Deno.Command(path, {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      })
        .output();
      if (success) return path;
    } catch {
      // try the next
    }
  }
  throw new Error("dnsmasq is not installed: run .ci/run, or `apt-get install dnsmasq-base`");
}

/** Find a UDP port that is free on 127.0.0.1 right now. */
async function freeUdpPort(): Promise<number> {
  await using probe = bindUdp({ ip: "127.0.0.1", port: 0 });
  return probe.local.port;
}

/** A running dnsmasq. */
export interface DnsServer extends AsyncDisposable {
  readonly endpoint: Endpoint;
  /** Lines dnsmasq logged (queries, with `--log-queries`). */
  readonly log: string[];
}

/** Start dnsmasq serving `zone` on 127.0.0.1 and wait until it answers. */
export async function startDnsServer(zone: Zone): Promise<DnsServer> {
  const binary = await findDnsmasq();
  const port = await freeUdpPort();
  const ttl = zone.ttl ?? 60;
  const args = [
    "--keep-in-foreground",
    "--no-daemon",
    "--log-queries",
    `--port=${port}`,
    "--listen-address=127.0.0.1",
    "--bind-interfaces",
    "--no-resolv",
    "--no-hosts",
    "--conf-file=/dev/null",
    "--pid-file=",
    `--local-ttl=${ttl}`,
    `--neg-ttl=${ttl}`,
    ...(zone.localDomains ?? ["test"]).map((d) => `--local=/${d}/`),
    ...Object.entries(zone.a ?? {}).map(([name, ip]) => `--host-record=${name},${ip},${ttl}`),
    ...(zone.srv ?? []).map((s) =>
      `--srv-host=${s.name},${s.target},${s.port},${s.priority},${s.weight}`
    ),
  ];
  const child = new Deno.Command(binary, { args, stdout: "null", stderr: "piped", stdin: "null" })
    .spawn();
  const log: string[] = [];
  const { promise: started, resolve: ready } = Promise.withResolvers<void>();
  const pump = (async () => {
    let pending = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        log.push(line);
        if (/started, version/.test(line)) ready();
      }
    }
    ready();
  })();
  const timeout = setTimeout(() => ready(), 5_000);
  await started;
  clearTimeout(timeout);
  return {
    endpoint: { ip: "127.0.0.1", port },
    log,
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
      await pump;
    },
  };
}
