/**
 * The network between two agents, as an attacker on the path sees it, for the
 * end-to-end encryption tests:
 *
 * - {@linkcode NodeFront}: a UDP relay in front of the node for one agent
 *   (its `--node`), which rewrites the @sckMI in the `RL0` answers it passes
 *   down, so that the agent's calls go to a proxy of the test's choice.
 * - {@linkcode TcpTap}: a forwarding TCP proxy that records every byte both
 *   ways and may drop, change or repeat whole PMI frames (a passive capture,
 *   or a path that tampers and replays).
 * - {@linkcode Interceptor}: a man in the middle that terminates both sides,
 *   with a key of its own: it answers the caller as if it were the callee and
 *   calls the callee as if it were the caller, and keeps whatever lines it
 *   could read.
 *
 * Every socket binds port 0 on the given loopback IP.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { PmiDecoder } from "../../lib/pmi/decoder.ts";
import { encodeNick, type PmiFrame } from "../../lib/pmi/frame.ts";
import {
  connectTcp,
  listenTcp,
  type StreamConn,
  type StreamListener,
} from "../../lib/transport/tcp.ts";
import { bindUdp, type DatagramSocket } from "../../lib/transport/udp.ts";
import {
  ChannelHandshake,
  conversationPrologue,
  encodePieces,
  HANDSHAKE_FRAME,
  type KeyPair,
  newIdentity,
  PieceJoiner,
  type SecureChannel,
} from "../../lib/crypto/mod.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A UDP relay in front of a node that sends some `RL0` answers elsewhere. */
export class NodeFront implements AsyncDisposable {
  readonly #front: DatagramSocket;
  readonly #upstreams = new Map<string, DatagramSocket>();
  readonly #loops: Promise<void>[] = [];
  readonly #redirects = new Map<string, { to: Endpoint; groupPort?: number }>();

  private constructor(node: Endpoint, ip: string) {
    this.#front = bindUdp({ ip, port: 0 });
    this.#pump(this.#front, (bytes, from) => {
      const key = `${from.ip}:${from.port}`;
      let upstream = this.#upstreams.get(key);
      if (!upstream) {
        const socket = bindUdp({ ip, port: 0 });
        upstream = socket;
        this.#upstreams.set(key, socket);
        this.#pump(socket, (answer) => void this.#front.send(this.#rewrite(answer), from));
      }
      void upstream.send(bytes, node);
    });
  }

  /** A relay towards `node`, bound on `ip`. */
  static open(node: Endpoint, ip = "127.0.0.1"): NodeFront {
    return new NodeFront(node, ip);
  }

  /** Where the agent sends (its `--node`). */
  get address(): Endpoint {
    return this.#front.local;
  }

  /**
   * From now on, an `RL0` that gives `from` as the @sckMI gives `to` instead
   * (and `g=<groupPort>` instead of its group port, when given: a group link
   * goes to the IP of `to`).
   */
  redirect(from: Endpoint, to: Endpoint, groupPort?: number): void {
    this.#redirects.set(`${from.ip}:${from.port}`, { to, groupPort });
  }

  #rewrite(bytes: Uint8Array): Uint8Array {
    const text = decoder.decode(bytes);
    if (!text.startsWith("RL0")) return bytes;
    // RL0<from>:<to>:<ip>:<port>[:<field>...]; addresses hold no ":".
    const parts = text.split(":");
    const redirect = this.#redirects.get(`${parts[2]}:${parts[3]}`);
    if (parts.length < 4 || redirect === undefined) return bytes;
    parts[2] = redirect.to.ip;
    parts[3] = String(redirect.to.port);
    const group = redirect.groupPort;
    const fields = parts.map((p, i) => i > 3 && group && p.startsWith("g=") ? `g=${group}` : p);
    return encoder.encode(fields.join(":"));
  }

  #pump(socket: DatagramSocket, each: (bytes: Uint8Array, from: Endpoint) => void): void {
    this.#loops.push((async () => {
      for (;;) {
        const datagram = await socket.receive();
        if (!datagram) return;
        each(datagram.bytes, datagram.from);
      }
    })());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#front.close();
    for (const socket of this.#upstreams.values()) socket.close();
    await Promise.all(this.#loops);
  }
}

/** Who sent a frame through the tap. */
export type Side = "caller" | "callee";

/**
 * What the tap does with each whole frame: the frames to pass on instead
 * (none to drop it, two to repeat it). `index` counts that side's frames from 0.
 */
export type FrameHook = (from: Side, frame: Uint8Array, index: number) => Uint8Array[];

/** Split a PMI stream into whole frames (`<type><len><info>`), keeping the bytes. */
class FrameSplitter {
  #buffer = new Uint8Array(0);

  push(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.#buffer.length + chunk.length);
    joined.set(this.#buffer);
    joined.set(chunk, this.#buffer.length);
    const frames: Uint8Array[] = [];
    let at = 0;
    while (joined.length - at >= 3) {
      const len = (joined[at + 1]! - 0x30) * 10 + (joined[at + 2]! - 0x30);
      if (joined.length - at < 3 + len) break;
      frames.push(joined.slice(at, at + 3 + len));
      at += 3 + len;
    }
    this.#buffer = joined.slice(at);
    return frames;
  }
}

async function writeAll(conn: StreamConn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** A forwarding TCP proxy that records (and may rewrite) what passes. */
export class TcpTap implements AsyncDisposable {
  readonly #listener: StreamListener;
  readonly #target: Endpoint;
  readonly #hook: FrameHook | undefined;
  readonly #conns: StreamConn[] = [];
  readonly #tasks: Promise<void>[] = [];
  readonly #bytes: Record<Side, Uint8Array[]> = { caller: [], callee: [] };
  readonly #frames: Record<Side, Uint8Array[]> = { caller: [], callee: [] };
  readonly #accepting: Promise<void>;

  private constructor(target: Endpoint, ip: string, hook: FrameHook | undefined) {
    this.#target = target;
    this.#hook = hook;
    this.#listener = listenTcp({ ip, port: 0 });
    this.#accepting = this.#accept();
  }

  /** A proxy on `ip` towards `target`; `hook` decides frame by frame (default: pass all). */
  static open(target: Endpoint, options: { ip?: string; hook?: FrameHook } = {}): TcpTap {
    return new TcpTap(target, options.ip ?? "127.0.0.1", options.hook);
  }

  /** Where callers connect. */
  get address(): Endpoint {
    return this.#listener.local;
  }

  /** Every byte `side` sent, as it arrived at the tap. */
  captured(side: Side): Uint8Array {
    const parts = this.#bytes[side];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Both directions' bytes, as text (bytes that are not UTF-8 become U+FFFD). */
  capturedText(): string {
    return decoder.decode(this.captured("caller")) + decoder.decode(this.captured("callee"));
  }

  /** The whole frames `side` sent so far. */
  frames(side: Side): readonly Uint8Array[] {
    return this.#frames[side];
  }

  async #accept(): Promise<void> {
    try {
      for await (const caller of this.#listener) {
        this.#conns.push(caller);
        const callee = await connectTcp(this.#target);
        this.#conns.push(callee);
        this.#tasks.push(
          this.#pipe("caller", caller, callee),
          this.#pipe("callee", callee, caller),
        );
      }
    } catch {
      // closed
    }
  }

  async #pipe(side: Side, from: StreamConn, to: StreamConn): Promise<void> {
    const splitter = new FrameSplitter();
    const buffer = new Uint8Array(65_536);
    try {
      for (;;) {
        const n = await from.read(buffer);
        if (n === null) break;
        const chunk = buffer.slice(0, n);
        this.#bytes[side].push(chunk);
        for (const frame of splitter.push(chunk)) {
          const index = this.#frames[side].length;
          this.#frames[side].push(frame);
          const out = this.#hook ? this.#hook(side, frame, index) : [frame];
          for (const f of out) await writeAll(to, f);
        }
      }
    } catch {
      // one side went away
    }
    try {
      to.close();
    } catch {
      // already closed
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await this.#accepting;
    await Promise.all(this.#tasks);
  }
}

/** Reads PMI frames (with the encrypted channel's types) from one connection. */
class FrameReader {
  readonly #conn: StreamConn;
  readonly #decoder = new PmiDecoder({ extensionTypes: "HE" });
  readonly #frames: PmiFrame[] = [];
  readonly #buffer = new Uint8Array(4096);

  constructor(conn: StreamConn) {
    this.#conn = conn;
  }

  async next(): Promise<PmiFrame | null> {
    while (this.#frames.length === 0) {
      const n = await this.#conn.read(this.#buffer);
      if (n === null) return null;
      const pushed = this.#decoder.push(this.#buffer.subarray(0, n));
      if (pushed.error) return null;
      this.#frames.push(...pushed.frames);
    }
    return this.#frames.shift()!;
  }

  async message(): Promise<Uint8Array | null> {
    const joiner = new PieceJoiner(4096);
    for (;;) {
      const frame = await this.next();
      if (frame === null || frame.kind !== "extension") return null;
      const step = joiner.push(frame.info);
      if (step.kind === "message") return step.message;
      if (step.kind === "error") return null;
    }
  }
}

/** What the man in the middle managed. */
export interface InterceptorLog {
  /** Handshakes it completed, by side. */
  readonly completed: Side[];
  /** Lines it could read, from either side. */
  readonly lines: string[];
  /** The key it answers with. */
  readonly key: KeyPair;
}

/**
 * A man in the middle with a key of its own: to the caller it claims to be
 * `calleeAddress`, to the callee (at `target`) it claims to be `callerAddress`.
 */
export class Interceptor implements AsyncDisposable {
  readonly #listener: StreamListener;
  readonly #conns: StreamConn[] = [];
  readonly #tasks: Promise<void>[] = [];
  readonly #accepting: Promise<void>;
  /** What it managed so far. */
  readonly log: InterceptorLog = { completed: [], lines: [], key: newIdentity() };

  private constructor(
    target: Endpoint,
    addresses: { caller: string; callee: string },
    ip: string,
  ) {
    const listener = listenTcp({ ip, port: 0 });
    this.#listener = listener;
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) {
          this.#conns.push(conn);
          this.#tasks.push(this.#intercept(conn, target, addresses).catch(() => {}));
        }
      } catch {
        // closed
      }
    })();
  }

  /** A man in the middle on `ip`, in front of the callee at `target`. */
  static open(
    target: Endpoint,
    addresses: { caller: string; callee: string },
    ip = "127.0.0.1",
  ): Interceptor {
    return new Interceptor(target, addresses, ip);
  }

  /** Where callers connect. */
  get address(): Endpoint {
    return this.#listener.local;
  }

  async #intercept(
    callerConn: StreamConn,
    target: Endpoint,
    addresses: { caller: string; callee: string },
  ): Promise<void> {
    const caller = new FrameReader(callerConn);
    const nick = await caller.next();
    if (nick?.kind !== "nick") return;
    const calleeConn = await connectTcp(target);
    this.#conns.push(calleeConn);
    const callee = new FrameReader(calleeConn);
    await writeAll(calleeConn, encodeNick(nick.text));
    const theirs = await callee.next();
    if (theirs?.kind !== "nick") return;
    await writeAll(callerConn, encodeNick(theirs.text));
    const prologue = conversationPrologue(nick.text, theirs.text);
    // Towards the caller: answer as the callee.
    const facing = new ChannelHandshake({
      initiator: false,
      identity: this.log.key,
      address: addresses.callee,
      prologue,
    });
    const first = await caller.message();
    if (first === null) return;
    const answer = await facing.receive(first);
    if (answer.kind !== "send") return;
    await writeAll(callerConn, encodePieces(HANDSHAKE_FRAME, answer.send));
    const last = await caller.message();
    if (last === null) return;
    const done = await facing.receive(last);
    if (done.kind !== "established") return;
    this.log.completed.push("caller");
    await this.#read(caller, done.channel);
  }

  async #read(reader: FrameReader, channel: SecureChannel): Promise<void> {
    const joiner = new PieceJoiner(1 << 20);
    for (;;) {
      const frame = await reader.next();
      if (frame === null) return;
      if (frame.kind === "line") this.log.lines.push(frame.text);
      if (frame.kind !== "extension") continue;
      const step = joiner.push(frame.info);
      if (step.kind !== "message") continue;
      const opened = channel.open(step.message);
      if (opened.ok) this.log.lines.push(decoder.decode(opened.plaintext.subarray(1)));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    await this.#accepting;
    await Promise.all(this.#tasks);
  }
}

/** A frame with one byte of its info flipped (the byte `offset` from the info's end). */
export function flipped(frame: Uint8Array, offset = 1): Uint8Array {
  const out = frame.slice();
  out[out.length - offset]! ^= 0x01;
  return out;
}

/** Whether `frame` is of PMI type `type`. */
export function isFrame(frame: Uint8Array, type: string): boolean {
  return frame[0] === type.charCodeAt(0);
}
