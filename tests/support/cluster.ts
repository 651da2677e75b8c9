/**
 * Clusters for tests: `deno task cluster` as a test starts it
 * (`scripts/cluster.ts` with two domains in `dir`, their nodes from `base`
 * on), and one domain served by three node processes over one Redis.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { type DnsServer, startDnsServer } from "./dns_server.ts";
import { ChildProcess, projectRoot, startProgram, tempDir } from "./process.ts";

/** Start the cluster script for two domains, nodes on `base` and the next address. */
export function startCluster(dir: string, base: string): ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--unstable-net",
      "--allow-net",
      "--allow-read=.",
      "--allow-write=.",
      "--allow-run",
      "--allow-sys=hostname",
      "--allow-env",
      `${projectRoot}scripts/cluster.ts`,
      "2",
      "--dir",
      dir,
      "--base",
      base,
    ],
    cwd: projectRoot,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new ChildProcess("cluster", child, false);
}

/** A node process of a Redis-backed cluster: its UDP endpoint and its folder. */
export type ClusterNode = ChildProcess & { endpoint: Endpoint; dir: string };

/** The users every cluster node of the tests lists in `nodelumi.cfg`. */
export const CLUSTER_USERS: readonly string[] = ["ana", "bo", "cy", "dan"];

/**
 * Start a node of domain `c.test` on `ip:4100` over the Redis at `redis`,
 * resolving through the DNS server at `dns`; `extra` lines go before
 * `[cluster]` (e.g. `[accounts]` settings).
 */
export async function startClusterNode(
  ip: string,
  redis: string,
  dns: Endpoint,
  extra: readonly string[] = [],
): Promise<ClusterNode> {
  const dir = await tempDir("cluster-");
  const lines = [
    "domain = c.test",
    `listen = ${ip}:4100`,
    "state = off",
    "log = off",
    `dns-server = ${dns.ip}:${dns.port}`,
    ...extra,
    "[cluster]",
    `redis = ${redis}`,
    "[users]",
    ...CLUSTER_USERS,
  ];
  await Deno.writeTextFile(`${dir}/nodelumi.cfg`, lines.join("\n") + "\n");
  const child = await startProgram("node", [], { cwd: dir, name: `node ${ip}` });
  await child.waitFor(/listening on/);
  return Object.assign(child, { endpoint: { ip, port: 4100 }, dir });
}

/** Three nodes of `c.test` on `<base>.1`–`.3` over one Redis, listed in SRV by a real DNS server. */
export interface RedisCluster extends AsyncDisposable {
  readonly dns: DnsServer;
  /** The nodes (a test may push more, started with {@linkcode startClusterNode}: they are stopped too). */
  readonly nodes: ClusterNode[];
}

/** Start {@linkcode RedisCluster}: a DNS server and three nodes on `<base>.1`–`.3`. */
export async function startRedisCluster(
  redis: string,
  base: string,
  extra: readonly string[] = [],
): Promise<RedisCluster> {
  const dns = await startDnsServer({
    a: Object.fromEntries([1, 2, 3].map((n) => [`n${n}.c.test`, `${base}.${n}`])),
    srv: [1, 2, 3].map((n) => ({
      name: "_plumi._udp.c.test",
      target: `n${n}.c.test`,
      port: 4100,
      priority: 10 * n,
      weight: 1,
    })),
  });
  const nodes: ClusterNode[] = [];
  try {
    for (const n of [1, 2, 3]) {
      nodes.push(await startClusterNode(`${base}.${n}`, redis, dns.endpoint, extra));
    }
  } catch (error) {
    for (const node of nodes) await node[Symbol.asyncDispose]();
    await dns[Symbol.asyncDispose]();
    throw error;
  }
  return {
    dns,
    nodes,
    async [Symbol.asyncDispose]() {
      for (const node of nodes) await node[Symbol.asyncDispose]();
      await dns[Symbol.asyncDispose]();
    },
  };
}
