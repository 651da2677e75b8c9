/**
 * Peers for the agent's end-to-end tests: a real node process, real agent
 * processes, and an agent built to the original protocol from bare sockets
 * (PLUMI on a UDP socket, PMI on TCP), whose every byte the test controls.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { connectTcp, listenTcp, type StreamConn } from "../../lib/transport/tcp.ts";
import { type ChildProcess, startProgram } from "./process.ts";
import { type Received, UdpPeer } from "./udp_peer.ts";

/** A node process and where it listens. */
export interface RunningNode {
  readonly process: ChildProcess;
  readonly endpoint: Endpoint;
}

/**
 * Start `main_node.ts` for `domain` with `users`, in `dir`, on `listen`
 * (default: a free loopback port). With `domains` (other domains' nodes), the
 * configuration is written in the INI form with a `[domains]` map, so nodes
 * on loopback find each other without DNS. `extraArgs` are more flags of the node.
 */
export async function startNode(
  dir: string,
  domain: string,
  users: readonly string[],
  listen = "127.0.0.1:0",
  domains?: Readonly<Record<string, string>>,
  extraArgs: readonly string[] = [],
  limits: Readonly<Record<string, number>> = {},
): Promise<RunningNode> {
  const config = `${dir}/nodelumi-${domain}.cfg`;
  const ini = domains !== undefined || Object.keys(limits).length > 0;
  const text = !ini ? `${domain} ${users.join(" ")}\n` : [
    `domain = ${domain}`,
    "[limits]",
    ...Object.entries(limits).map(([key, value]) => `${key} = ${value}`),
    "[domains]",
    ...Object.entries(domains ?? {}).map(([d, at]) => `${d} = ${at}`),
    "[users]",
    ...users,
    "",
  ].join("\n");
  await Deno.writeTextFile(config, text);
  const process = await startProgram(
    "node",
    ["--config", config, "--listen", listen, "--no-log", "--no-state", ...extraArgs],
    { cwd: dir, name: `node ${domain}` },
  );
  const match = await process.waitFor(/listening on (\d+\.\d+\.\d+\.\d+):(\d+)/);
  return { process, endpoint: { ip: match[1]!, port: Number(match[2]) } };
}

/** Start `main_agent.ts` for `address` in `dir` (its packet log goes there) and wait until registered. */
export async function startAgent(
  dir: string,
  address: string,
  nick: string,
  node: Endpoint,
  extra: readonly string[] = [],
): Promise<ChildProcess> {
  const agent = await startProgram(
    "agent",
    ["--address", address, "--nick", nick, "--node", `${node.ip}:${node.port}`, ...extra],
    { cwd: dir, name: `agent ${address}` },
  );
  await agent.waitFor(/^Registered /);
  return agent;
}

/** The @sckMI an agent process printed at start. */
export async function advertisedEndpoint(agent: ChildProcess): Promise<Endpoint> {
  const match = await agent.waitFor(
    /^Listening for conversations on .*, advertised as (\d+\.\d+\.\d+\.\d+):(\d+)$/,
  );
  return { ip: match[1]!, port: Number(match[2]) };
}

/** The group endpoint (the `g=` port) an agent process printed at start. */
export async function groupEndpoint(agent: ChildProcess): Promise<Endpoint> {
  const match = await agent.waitFor(
    /^Listening for group links on .*, advertised as (\d+\.\d+\.\d+\.\d+):(\d+)$/,
  );
  return { ip: match[1]!, port: Number(match[2]) };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A PMI connection whose bytes the test reads and writes exactly. */
export class RawPmi implements AsyncDisposable {
  readonly conn: StreamConn;
  #buffer = new Uint8Array(0);
  #closed = false;

  constructor(conn: StreamConn) {
    this.conn = conn;
  }

  /** Connect to an agent's @sckMI. */
  static async connect(to: Endpoint): Promise<RawPmi> {
    return new RawPmi(await connectTcp(to));
  }

  /** Write `data` in one go. */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    let offset = 0;
    while (offset < bytes.length) offset += await this.conn.write(bytes.subarray(offset));
  }

  /** Write `data` one byte per TCP write, yielding to the event loop between bytes. */
  async sendByteByByte(data: string): Promise<void> {
    for (const byte of encoder.encode(data)) {
      await this.send(new Uint8Array([byte]));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Read exactly `count` bytes as text; throws on end of stream or after `timeoutMs`. */
  async read(count: number, timeoutMs = 5_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buffer.length < count) {
      const chunk = await this.#readChunk(deadline - Date.now());
      if (chunk === null) {
        throw new Error(
          `stream ended after ${this.#buffer.length} of ${count} bytes: "${
            decoder.decode(this.#buffer)
          }"`,
        );
      }
      const joined = new Uint8Array(this.#buffer.length + chunk.length);
      joined.set(this.#buffer);
      joined.set(chunk, this.#buffer.length);
      this.#buffer = joined;
    }
    const out = this.#buffer.subarray(0, count);
    this.#buffer = this.#buffer.subarray(count);
    return decoder.decode(out);
  }

  /**
   * Read one whole PMI frame: its type letter and its info as text. Throws
   * on the end of the stream, or after `timeoutMs`.
   */
  async readFrame(timeoutMs = 5_000): Promise<{ type: string; text: string }> {
    const header = await this.read(3, timeoutMs);
    if (!/^.\d\d$/.test(header)) throw new Error(`not a PMI frame header: "${header}"`);
    const text = await this.read(Number(header.slice(1)), timeoutMs);
    return { type: header[0]!, text };
  }

  /** Wait until the peer closes the connection; throws if data or nothing arrives instead. */
  async expectEnd(timeoutMs = 5_000): Promise<void> {
    if (this.#buffer.length > 0) {
      throw new Error(`unexpected data: "${decoder.decode(this.#buffer)}"`);
    }
    const chunk = await this.#readChunk(timeoutMs);
    if (chunk !== null) throw new Error(`unexpected data: "${decoder.decode(chunk)}"`);
  }

  async #readChunk(timeoutMs: number): Promise<Uint8Array | null> {
    const buffer = new Uint8Array(4096);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no data within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const n = await Promise.race([this.conn.read(buffer), timeout]).catch((error) => {
        if (error instanceof Deno.errors.ConnectionReset) return null;
        throw error;
      });
      return n === null ? null : buffer.slice(0, n);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Close the connection (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/**
 * The receiving side of an original agent's PMI connection, exactly as the
 * original reads it: one read of at most 102 bytes, the first frame in it
 * decoded, and whatever else the read returned thrown away; then it shows
 * the line on its terminal (`busyMs`) before it reads again. Two frames that
 * reach its socket together therefore lose the second.
 */
export class OriginalReader {
  readonly conn: StreamConn;
  /** Bytes thrown away so far, as the original would have. */
  discarded = 0;
  readonly #busyMs: number;
  #reads = 0;

  /** `busyMs`: how long showing a line takes before the next read. Default: 10. */
  constructor(conn: StreamConn, busyMs = 10) {
    this.conn = conn;
    this.#busyMs = busyMs;
  }

  /** One read, one frame: its type and text; `null` at the end of the stream. */
  async readFrame(timeoutMs = 5_000): Promise<{ type: string; text: string } | null> {
    if (this.#reads++ > 0) await new Promise((resolve) => setTimeout(resolve, this.#busyMs));
    const buffer = new Uint8Array(102);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no data within ${timeoutMs} ms`)), timeoutMs);
    });
    let n: number | null;
    try {
      n = await Promise.race([this.conn.read(buffer), timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (n === null) return null;
    const header = decoder.decode(buffer.subarray(0, Math.min(3, n)));
    if (!/^.\d\d$/.test(header)) throw new Error(`not a PMI frame header: "${header}"`);
    const end = 3 + Number(header.slice(1));
    this.discarded += Math.max(0, n - end);
    return { type: header[0]!, text: decoder.decode(buffer.subarray(3, Math.min(end, n))) };
  }
}

/**
 * An agent built to the original protocol out of bare sockets: it registers
 * with `PR`, answers look-ups itself, and speaks PMI byte by byte as the test
 * says. Nothing in it comes from `lib/agent`.
 */
export class OriginalAgent implements AsyncDisposable {
  readonly address: string;
  readonly udp: UdpPeer;
  readonly #listener = listenTcp({ ip: "127.0.0.1", port: 0 });
  readonly #accepted: AsyncIterator<StreamConn>;

  constructor(address: string) {
    this.address = address;
    this.udp = UdpPeer.open(`original ${address}`);
    this.#accepted = this.#listener[Symbol.asyncIterator]();
  }

  /** The @sckMI this agent advertises. */
  get pmiEndpoint(): Endpoint {
    return { ip: "127.0.0.1", port: this.#listener.local.port };
  }

  /** `PR<address>` → expects `RR0`. */
  async register(node: Endpoint): Promise<void> {
    const reply = await this.udp.request(`PR${this.address}`, node);
    if (reply.text !== "RR0") throw new Error(`registration answered "${reply.text}"`);
  }

  /** `PD<address>` → expects `RD0`. */
  async deregister(node: Endpoint): Promise<void> {
    const reply = await this.udp.request(`PD${this.address}`, node);
    if (reply.text !== "RD0") throw new Error(`deregistration answered "${reply.text}"`);
  }

  /** Wait for a look-up the node forwards and answer `RL0` with this agent's @sckMI. */
  async answerLookup(): Promise<string> {
    const lookup = await this.udp.receive();
    if (!lookup.text.startsWith("PL")) throw new Error(`expected a PL, got "${lookup.text}"`);
    const { ip, port } = this.pmiEndpoint;
    await this.udp.send(`RL0${lookup.text.slice(2)}:${ip}:${port}`, lookup.from);
    return lookup.text;
  }

  /** `PL<address>:<to>` → the node's answer, as text. */
  async lookup(node: Endpoint, to: string): Promise<string> {
    return (await this.udp.request(`PL${this.address}:${to}`, node)).text;
  }

  /** The next TCP connection made to this agent. */
  async accept(timeoutMs = 5_000): Promise<RawPmi> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no connection within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const next = await Promise.race([this.#accepted.next(), timeout]);
      if (next.done) throw new Error("listener closed");
      return new RawPmi(next.value);
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    await this.udp[Symbol.asyncDispose]();
  }
}

/** The PMI frame bytes of `text` as the original sends them: `L` frames of at most 99 bytes. */
export function lineFrames(text: string): string {
  if (text === "") return "L00";
  let out = "";
  for (let i = 0; i < text.length; i += 99) {
    const piece = text.slice(i, i + 99);
    out += `L${String(piece.length).padStart(2, "0")}${piece}`;
  }
  return out;
}

/** Options of {@linkcode ScriptedNode}. */
export interface ScriptedNodeOptions {
  /** Answer `PR` with `RR0` and `PD` with `RD0`. Default: true. */
  readonly answerRegistrations?: boolean;
}

/**
 * A UDP socket playing a node: it records every datagram and, unless told to
 * stay silent, answers registrations. Look-ups are never answered, so the
 * test decides what happens to them.
 */
export class ScriptedNode implements AsyncDisposable {
  readonly udp: UdpPeer = UdpPeer.open("scripted node");
  /** Every datagram received, in order. */
  readonly packets: Received[] = [];
  readonly #answer: boolean;
  readonly #loop: Promise<void>;
  #waiters: Array<() => void> = [];
  #closed = false;

  constructor(options: ScriptedNodeOptions = {}) {
    this.#answer = options.answerRegistrations ?? true;
    this.#loop = this.#run();
  }

  /** Where agents send to. */
  get endpoint(): Endpoint {
    return this.udp.local;
  }

  /** The texts received so far. */
  get texts(): string[] {
    return this.packets.map((p) => p.text);
  }

  /** Wait for a datagram whose text matches `pattern`, from the start. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.packets.find((p) => pattern.test(p.text));
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`scripted node: no ${pattern} in time; got ${JSON.stringify(this.texts)}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      let packet: Received;
      try {
        packet = await this.udp.receive(100);
      } catch {
        continue;
      }
      this.packets.push(packet);
      if (this.#answer && packet.text.startsWith("PR")) await this.udp.send("RR0", packet.from);
      if (this.#answer && packet.text.startsWith("PD")) await this.udp.send("RD0", packet.from);
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    await this.#loop;
    await this.udp[Symbol.asyncDispose]();
  }
}
