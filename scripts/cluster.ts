/**
 * `deno task cluster [N]`: a local federation of N domains (default 3), one
 * node each on its own loopback address, all on port 3344, each knowing the
 * others through its static `[domains]` map. Prints how to start agents;
 * Ctrl-C stops every node cleanly.
 *
 * ```sh
 * deno task cluster          # aa.test, bb.test, cc.test on 127.0.0.2-4:3344
 * deno task cluster 5
 * ```
 *
 * Each node keeps its configuration, packet log and state in
 * `.cluster/<domain>/`. On macOS, add the extra loopback addresses first:
 * `sudo ifconfig lo0 alias 127.0.0.2` (and so on).
 *
 * @module
 */

import { parseArgs } from "#cli";
import { ROOT, taskFlags } from "../tests/support/task_flags.ts";

const USAGE = `Usage: deno task cluster [N] [--users a,b,c] [--dir DIR] [--base IP]

Starts N local LUMI nodes (default 3, at most 250) for the domains aa.test,
bb.test, cc.test, ... on 127.0.0.2:3344, 127.0.0.3:3344, ... and prints the
commands to start agents against them. Ctrl-C stops them all.

  --users a,b,c   users of every domain (default: laura,joan,pere)
  --dir DIR       where each node keeps its files (default: .cluster)
  --base IP       address of the first node; the others follow (default: 127.0.0.2)`;

const NAMES = "abcdefghijklmnopqrstuvwxyz";

/** The domain of the i-th node (0-based): aa.test, bb.test, ..., then a1.test style. */
export function clusterDomain(i: number): string {
  const letter = NAMES[i % 26]!;
  return i < 26 ? `${letter}${letter}.test` : `${letter}${Math.floor(i / 26)}.test`;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      users: { type: "string", default: "laura,joan,pere" },
      dir: { type: "string", default: ".cluster" },
      base: { type: "string", default: "127.0.0.2" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const count = Number(positionals[0] ?? 3);
  if (!Number.isInteger(count) || count < 1 || count > 250) {
    console.error(`The number of domains must be 1-250, got "${positionals[0]}".\n${USAGE}`);
    return 64;
  }
  const base = String(values.base).match(/^(127\.\d{1,3}\.\d{1,3})\.(\d{1,3})$/);
  if (!base || Number(base[2]) + count > 255) {
    console.error(`--base must be a loopback address 127.x.y.z with room for ${count} nodes.`);
    return 64;
  }
  const users = String(values.users).split(",").map((u) => u.trim()).filter(Boolean);
  const nodes = Array.from({ length: count }, (_, i) => ({
    domain: clusterDomain(i),
    ip: `${base[1]}.${Number(base[2]) + i}`,
  }));
  const flags = await taskFlags("node");
  const script = new URL("main_node.ts", ROOT).pathname;
  // Before any node starts: an early Ctrl-C still stops every node (none is left behind).
  const stop = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", () => stop.resolve());
  Deno.addSignalListener("SIGTERM", () => stop.resolve());
  const children: Deno.ChildProcess[] = [];
  const listening: Promise<string | undefined>[] = [];

  for (const node of nodes) {
    const dir = `${values.dir}/${node.domain}`;
    await Deno.mkdir(dir, { recursive: true });
    const map = nodes.filter((n) => n !== node).map((n) => `${n.domain} = ${n.ip}:3344`);
    const config = [
      `domain = ${node.domain}`,
      `listen = ${node.ip}:3344`,
      "",
      "[domains]",
      ...map,
      "",
      "[users]",
      ...users,
      "",
    ].join("\n");
    // Keep an existing file: the administrator may have added users.
    await Deno.writeTextFile(`${dir}/nodelumi.cfg`, config, { createNew: true }).catch((error) => {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    });
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", ...flags, script],
      cwd: dir,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    children.push(child);
    listening.push(forwardUntilListening(child, node.domain));
  }

  // "Running" only once every node listens; a node that fails to bind stops the cluster.
  const started = await Promise.race([
    Promise.all(listening),
    stop.promise.then(() => ["Interrupted before every node listened"]),
  ]);
  const failures = started.filter((problem) => problem !== undefined);
  if (failures.length > 0) {
    for (const problem of failures) console.error(problem);
    await stopAll(children);
    console.error(`Cluster not started: ${failures.length} of ${count} node(s) failed.`);
    return 1;
  }

  const [first, second] = [nodes[0]!, nodes[1] ?? nodes[0]!];
  console.log(`
Cluster of ${count} domain(s) running; files in ${values.dir}/. Users of every domain: ${
    users.join(", ")
  }.
Start two agents in two other terminals, then type the other's address in one of them:

  deno task agent --address ${users[0]}@${first.domain} --nick ${
    users[0]
  } --node ${first.ip}:3344 --data ${values.dir}/agents/${users[0]}@${first.domain}
  deno task agent --address ${users[1] ?? users[0]}@${second.domain} --nick ${
    users[1] ?? users[0]
  } --node ${second.ip}:3344 --data ${values.dir}/agents/${users[1] ?? users[0]}@${second.domain}

Each agent keeps its profile in its --data folder: the next time, --data alone starts it.

Press Ctrl-C to stop every node.`);

  const anyExit = Promise.race(children.map((c) => c.status));
  await Promise.race([stop.promise, anyExit]);
  const statuses = await stopAll(children);
  const failed = statuses.filter((s) => !s.success).length;
  console.log(failed ? `Stopped; ${failed} node(s) had failed.` : "All nodes stopped.");
  return failed ? 1 : 0;
}

/** How long a node may take to listen before the cluster gives up, ms. */
const START_TIMEOUT_MS = 20_000;

/**
 * Copy `child`'s output to ours, line by line; resolves `undefined` once it
 * says it listens, or why it did not (it exited, or took too long).
 */
function forwardUntilListening(
  child: Deno.ChildProcess,
  domain: string,
): Promise<string | undefined> {
  const ready = Promise.withResolvers<string | undefined>();
  const timer = setTimeout(
    () =>
      ready.resolve(`Node ${domain} did not start listening within ${START_TIMEOUT_MS / 1000} s`),
    START_TIMEOUT_MS,
  );
  void (async () => {
    let pending = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      await Deno.stdout.write(new TextEncoder().encode(text));
      pending = (pending + text).slice(-4096);
      if (/listening on /.test(pending)) ready.resolve(undefined);
    }
    const status = await child.status;
    ready.resolve(`Node ${domain} failed to start (exit code ${status.code}): see its lines above`);
  })().catch(() => ready.resolve(`Node ${domain}: its output could not be read`));
  return ready.promise.finally(() => clearTimeout(timer));
}

/** Stop every child (SIGTERM) and wait for them all. */
async function stopAll(children: readonly Deno.ChildProcess[]): Promise<Deno.CommandStatus[]> {
  for (const child of children) {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
  }
  return await Promise.all(children.map((c) => c.status));
}

if (import.meta.main) Deno.exit(await main());
