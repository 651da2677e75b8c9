/**
 * A real Redis for tests: Debian's `redis-server` started as its own process
 * on a free loopback port, in a temporary folder of its own (its append-only
 * file lives there, so a restart of the same server finds it again), stopped
 * by `await using`. {@linkcode redisTools} says whether the tool is there
 * (installed with apt when root, see `system_tools.ts`).
 *
 * @example
 * ```ts
 * await using redis = await startRedis({ appendOnly: true });
 * redis.url; // "redis://127.0.0.1:40123"
 * ```
 *
 * @module
 */

import { tempDir } from "./process.ts";
import { requireTools, type ToolCheck } from "./system_tools.ts";

/** Whether `redis-server` is there (installing it when possible). */
export function redisTools(): Promise<ToolCheck> {
  return requireTools({ "redis-server": "redis-server" });
}

/** A running Redis server. */
export interface RedisServer extends AsyncDisposable {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** `redis://127.0.0.1:port`, for `[cluster] redis =`. */
  readonly url: string;
  /** Its folder (the append-only file is there). */
  readonly dir: string;
  /** The process id of the running server (for CPU figures); 0 while stopped. */
  readonly pid: number;
  /** Stop it: `SIGKILL` (nothing flushed on the way out) or `SIGTERM`. */
  stop(signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
  /** Start it again on the same port and folder (after {@linkcode RedisServer.stop}). */
  restart(): Promise<void>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitReady(port: number, process: Deno.ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  let exited = false;
  process.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(new TextEncoder().encode("PING\r\n"));
      const buffer = new Uint8Array(64);
      const n = await conn.read(buffer);
      conn.close();
      if (n && new TextDecoder().decode(buffer.subarray(0, n)).startsWith("+PONG")) return;
    } catch {
      // Not listening yet, or still loading its append-only file.
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on port ${port} did not start`);
}

/** Start a Redis server; `appendOnly` turns on its append-only file (fsync on every write). */
export async function startRedis(
  options: { readonly appendOnly?: boolean } = {},
): Promise<RedisServer> {
  const dir = await tempDir("redis-");
  const port = freePort();
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--daemonize",
    "no",
    "--logfile",
    `${dir}/redis.log`,
    ...(options.appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : []),
  ];
  let process: Deno.ChildProcess | undefined;
  const start = async () => {
    process = new Deno.Command("redis-server", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitReady(port, process);
  };
  const stop = async (signal: "SIGKILL" | "SIGTERM" = "SIGTERM") => {
    const running = process;
    process = undefined;
    if (!running) return;
    try {
      running.kill(signal);
    } catch {
      // Already gone.
    }
    await running.status;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return process?.pid ?? 0;
    },
    stop,
    restart: start,
    async [Symbol.asyncDispose]() {
      await stop("SIGKILL");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
