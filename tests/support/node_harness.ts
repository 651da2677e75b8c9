/**
 * A real node process (`main_node.ts`) in a temporary directory of its own,
 * for the hardening tests: start it with a configuration, talk to its
 * console, read its counters, stop or kill it, look at its files.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { bindUdp, type DatagramSocket } from "../../lib/transport/udp.ts";
import { type ChildProcess, startProgram, tempDir } from "./process.ts";

/** The node's counters, as its console's `stats` prints them. */
export interface NodeCounters {
  received: number;
  sent: number;
  forwarded: number;
  sendFailures: number;
  malformed: Record<string, number>;
  dropped: Record<string, number>;
  bans: number;
}

const LISTENING = /^LUMI node (\S+) listening on (\d+\.\d+\.\d+\.\d+):(\d+) \((.*)\)$/;

/** A temporary directory that is removed on dispose. */
export class ScratchDir implements AsyncDisposable {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** A fresh directory under `tests/.tmp`, holding `files` (name → text or bytes). */
  static async create(
    prefix: string,
    files: Record<string, string | Uint8Array> = {},
  ): Promise<ScratchDir> {
    const dir = new ScratchDir(await tempDir(`${prefix}-`));
    for (const [name, data] of Object.entries(files)) await dir.write(name, data);
    return dir;
  }

  /** Path of `name` inside the directory. */
  file(name: string): string {
    return `${this.path}/${name}`;
  }

  read(name: string): Promise<string> {
    return Deno.readTextFile(this.file(name));
  }

  write(name: string, data: string | Uint8Array): Promise<void> {
    return typeof data === "string"
      ? Deno.writeTextFile(this.file(name), data)
      : Deno.writeFile(this.file(name), data);
  }

  /** Names of the files in the directory, sorted. */
  async files(): Promise<string[]> {
    const names: string[] = [];
    for await (const entry of Deno.readDir(this.path)) names.push(entry.name);
    return names.sort();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Deno.remove(this.path, { recursive: true }).catch(() => {});
  }
}

/** A node process that has said where it listens. */
export class NodeProcess implements AsyncDisposable {
  readonly child: ChildProcess;
  /** Where it listens. */
  readonly at: Endpoint;
  /** Its domain, as it announced it. */
  readonly domain: string;
  /** The rest of its start line, e.g. `3 users, 0 online restored`. */
  readonly startInfo: string;

  private constructor(child: ChildProcess, match: RegExpMatchArray) {
    this.child = child;
    this.domain = match[1]!;
    this.at = { ip: match[2]!, port: Number(match[3]) };
    this.startInfo = match[4]!;
  }

  /**
   * Start `main_node.ts` in `dir` (its configuration is `dir/nodelumi.cfg`
   * unless `args` say otherwise) and wait until it listens.
   */
  static async start(
    dir: string,
    args: readonly string[] = [],
    listen = "127.0.0.1:0",
  ): Promise<NodeProcess> {
    const child = await startProgram("node", ["--listen", listen, ...args], {
      cwd: dir,
      name: `node in ${dir}`,
    });
    try {
      return new NodeProcess(child, await child.waitFor(LISTENING));
    } catch (error) {
      await child[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Send a console command and wait for an output line matching `pattern`. */
  async command(line: string, pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const from = this.child.lines.length;
    await this.child.send(line);
    return await this.child.waitFor(pattern, { from, timeoutMs });
  }

  /** The node's counters, through the console's `stats`. */
  async stats(): Promise<NodeCounters> {
    const from = this.child.lines.length;
    await this.child.send("stats --json");
    await this.child.waitFor(/^}$/, { from });
    const lines = this.child.lines.slice(from);
    const start = lines.indexOf("{");
    const end = lines.indexOf("}", start);
    return JSON.parse(lines.slice(start, end + 1).join("\n"));
  }

  /** The console's `list`: each user's state (`online ip:port` or `offline`), and the totals line. */
  async list(): Promise<{ users: Map<string, string>; total: string }> {
    const from = this.child.lines.length;
    await this.child.send("list");
    const [total] = await this.child.waitFor(/^\d+ users, \d+ online$/, { from });
    const users = new Map<string, string>();
    for (const line of this.child.lines.slice(from)) {
      const match = line.match(/^ {2}(\S+)@\S+\s+(online\s+\S+|offline)/);
      if (match) users.set(match[1]!, match[2]!.replace(/\s+/, " "));
    }
    return { users, total };
  }

  /** Send `signal` and wait for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.child.kill(signal);
    return await this.child.exited();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.child[Symbol.asyncDispose]();
  }
}

/** Run `main_node.ts` in `dir` expecting it not to start; its exit code and output. */
export async function failedStart(
  dir: string,
  args: readonly string[] = [],
): Promise<{ code: number; stdout: readonly string[]; stderr: readonly string[] }> {
  const child = await startProgram("node", ["--listen", "127.0.0.1:0", ...args], {
    cwd: dir,
    name: `node in ${dir}`,
    stdin: false,
  });
  // A node that does start is a failure of the caller's expectation: stop it, report it.
  const started = child.waitFor(LISTENING, { timeoutMs: 15_000 }).then(
    () => child.kill("SIGKILL"),
    () => {},
  );
  const status = await child.exited();
  await started;
  return { code: status.code, stdout: child.lines, stderr: child.errors };
}

/** Options of {@linkcode NxDomainServer}. */
export interface NxDomainServerOptions {
  /** Address to listen on (port 0). Default: 127.0.0.1. */
  readonly ip?: string;
  /**
   * Answer each query this long after the one before, in the order they came (a slow server,
   * still well within the node's 700 ms per attempt). Default: 0, at once.
   */
  readonly delayMs?: number;
}

/**
 * A DNS server on loopback that answers every query "no such name"
 * (NXDOMAIN), at once unless told to be slow, as a real resolver does for
 * the made-up domains of a fuzzer: the node then learns that they do not
 * resolve.
 */
export class NxDomainServer implements AsyncDisposable {
  readonly #socket: DatagramSocket;
  readonly #loop: Promise<void>;
  /** Queries answered so far. */
  queries = 0;

  constructor(options: NxDomainServerOptions = {}) {
    const socket = bindUdp({ ip: options.ip ?? "127.0.0.1", port: 0 });
    const delayMs = options.delayMs ?? 0;
    this.#socket = socket;
    this.#loop = (async () => {
      for (;;) {
        const datagram = await socket.receive();
        if (!datagram) return;
        const query = datagram.bytes;
        if (query.length < 12) continue;
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        this.queries++;
        const answer = query.slice();
        answer[2] = 0x81 | (query[2]! & 0x01); // a response, recursion desired as asked
        answer[3] = 0x83; // recursion available, NXDOMAIN
        await socket.send(answer, datagram.from);
      }
    })();
  }

  /** Where it listens. */
  get endpoint(): Endpoint {
    return this.#socket.local;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.close();
    await this.#loop;
  }
}

/** Wait for a line on a node's stderr matching `pattern`, from line `from`. */
export async function stderrLine(
  node: { readonly child: ChildProcess },
  pattern: RegExp,
  from = 0,
  timeoutMs = 10_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = node.child.errors.slice(from).find((l) => pattern.test(l));
    if (line !== undefined) return line;
    const left = deadline - Date.now();
    if (left <= 0) {
      throw new Error(`no stderr line matching ${pattern}:\n${node.child.errors.join("\n")}`);
    }
    await node.child.changed(left);
  }
}
