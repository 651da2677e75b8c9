/**
 * A real node process with an account database, for the agent's session
 * tests: users with passwords (cheap PBKDF2, written before the start), a
 * short heartbeat, and a fixed address so that it can be killed (or
 * paused) and started again where its agents expect it. Also starts real
 * agents against it.
 *
 * @module
 */

import { createCredentials } from "../../lib/auth.ts";
import { AccountStore } from "../../lib/node/store.ts";
import type { Endpoint } from "../../lib/plumi/address.ts";
import { type ChildProcess, startProgram, tempDir } from "./process.ts";

const LISTENING = /^LUMI node (\S+) listening on (\d+\.\d+\.\d+\.\d+):(\d+) \((.*)\)$/;

/** What {@linkcode AccountNode.start} is given. */
export interface AccountNodeSpec {
  /** `IP:PORT` to listen on (port 0 picks one; restarts reuse it). */
  readonly listen: string;
  /** Users of `[users]`. */
  readonly users: readonly string[];
  /** Passwords written to the database before the first start (1,000 PBKDF2 iterations). */
  readonly passwords?: Record<string, string>;
  /** `[limits] heartbeat`, seconds. Default: 1. */
  readonly heartbeat?: number;
  /** The domain. Default: `bb.com`. */
  readonly domain?: string;
  /** More top-level settings of the configuration (`dns-server = …`). Default: none. */
  readonly settings?: readonly string[];
}

/** A node process with accounts, restartable at the same address. */
export class AccountNode implements AsyncDisposable {
  readonly dir: string;
  readonly domain: string;
  child: ChildProcess;
  at: Endpoint;

  private constructor(dir: string, domain: string, child: ChildProcess, at: Endpoint) {
    this.dir = dir;
    this.domain = domain;
    this.child = child;
    this.at = at;
  }

  /** `IP:PORT`, as `--node` takes it. */
  get address(): string {
    return `${this.at.ip}:${this.at.port}`;
  }

  static async start(spec: AccountNodeSpec): Promise<AccountNode> {
    const domain = spec.domain ?? "bb.com";
    const dir = await tempDir(`session-${domain}-`);
    const config = [
      `domain = ${domain}`,
      "state = off",
      "log = off",
      ...(spec.settings ?? []),
      "[limits]",
      `heartbeat = ${spec.heartbeat ?? 1}`,
      "[users]",
      ...spec.users,
      "",
    ];
    await Deno.writeTextFile(`${dir}/nodelumi.cfg`, config.join("\n"));
    if (spec.passwords) {
      using store = AccountStore.open(`${dir}/nodelumi-${domain}.db`);
      for (const [name, password] of Object.entries(spec.passwords)) {
        store.setPassword(name, await createCredentials(password, 1_000));
      }
    }
    const [child, at] = await AccountNode.#launch(dir, domain, spec.listen);
    return new AccountNode(dir, domain, child, at);
  }

  static async #launch(dir: string, domain: string, listen: string) {
    const child = await startProgram("node", ["--listen", listen, "--no-log"], {
      cwd: dir,
      name: `node ${domain}`,
    });
    try {
      const match = await child.waitFor(LISTENING);
      return [child, { ip: match[2]!, port: Number(match[3]) }] as const;
    } catch (error) {
      await child[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Kill the node with `signal` (SIGKILL: no goodbye) and wait for the exit. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    this.child.kill(signal);
    await this.child.exited();
  }

  /** Start it again, at the same address, on the same files. */
  async startAgain(): Promise<void> {
    const [child, at] = await AccountNode.#launch(this.dir, this.domain, this.address);
    this.child = child;
    this.at = at;
  }

  /** The console's `list`: `online IP:PORT` or `offline` for each user. */
  async list(): Promise<Map<string, string>> {
    const from = this.child.lines.length;
    await this.child.send("list");
    await this.child.waitFor(/^\d+ users, \d+ online$/, { from });
    const users = new Map<string, string>();
    for (const line of this.child.lines.slice(from)) {
      const match = line.match(/^ {2}(\S+)@\S+\s+(online\s+\S+|offline)/);
      if (match) users.set(match[1]!, match[2]!.replace(/\s+/, " "));
    }
    return users;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.child[Symbol.asyncDispose]();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** Start a real agent for `address` (nickname: its name) on `node`. */
export function startAgent(
  node: AccountNode,
  address: string,
  options: { password?: string; args?: readonly string[]; name?: string } = {},
): Promise<ChildProcess> {
  return startProgram("agent", [
    "--address",
    address,
    "--nick",
    address.slice(0, address.indexOf("@")),
    "--node",
    node.address,
    "--no-log",
    ...(options.args ?? []),
  ], {
    cwd: node.dir,
    name: options.name ?? `agent ${address}`,
    env: options.password === undefined ? {} : { LUMI_PASSWORD: options.password },
  });
}
