/**
 * In-memory stand-ins for the agent's sockets, terminal and log, for unit
 * tests that run without permissions. Not part of the public API.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import type { StreamConn, StreamListener } from "../transport/tcp.ts";
import type { Datagram, DatagramSocket } from "../transport/udp.ts";
import type { LogSink } from "../packet_log.ts";
import type { AgentUi } from "./terminal/ui.ts";

/** Let pending promise callbacks and zero-delay timers run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A queue whose `take` waits for the next item; `null` once ended. */
export class Queue<T> {
  #items: T[] = [];
  #waiters: Array<(item: T | null) => void> = [];
  #ended = false;

  put(item: T): void {
    const waiter = this.#waiters.shift();
    if (waiter) waiter(item);
    else this.#items.push(item);
  }

  take(): Promise<T | null> {
    if (this.#items.length > 0) return Promise.resolve(this.#items.shift()!);
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  end(): void {
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }

  get length(): number {
    return this.#items.length;
  }
}

/** A UDP socket in memory: what is sent is recorded; tests {@linkcode MemorySocket.deliver} datagrams. */
export class MemorySocket implements DatagramSocket {
  readonly local: Endpoint;
  readonly sent: Array<{ text: string; to: Endpoint }> = [];
  readonly #incoming = new Queue<Datagram>();
  #onSend: ((text: string, to: Endpoint) => void) | undefined;
  closed = false;

  constructor(local: Endpoint = { ip: "0.0.0.0", port: 40000 }) {
    this.local = local;
  }

  /** Called for every datagram sent, e.g. to play the node. */
  onSend(handler: (text: string, to: Endpoint) => void): void {
    this.#onSend = handler;
  }

  send(bytes: Uint8Array, to: Endpoint): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const text = new TextDecoder().decode(bytes);
    this.sent.push({ text, to });
    this.#onSend?.(text, to);
    return Promise.resolve(true);
  }

  receive(): Promise<Datagram | null> {
    return this.#incoming.take();
  }

  /** A datagram arrives from `from`. */
  deliver(packet: string | Uint8Array, from: Endpoint): void {
    const bytes = typeof packet === "string" ? new TextEncoder().encode(packet) : packet;
    this.#incoming.put({ bytes, from });
  }

  close(): void {
    this.closed = true;
    this.#incoming.end();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

class Half {
  chunks: Uint8Array[] = [];
  ended = false;
  waiters: Array<() => void> = [];
  wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

function addr(port: number): Deno.NetAddr {
  return { transport: "tcp", hostname: "127.0.0.1", port };
}

class MemoryConn implements StreamConn {
  readonly localAddr: Deno.Addr;
  readonly remoteAddr: Deno.Addr;
  readonly #in: Half;
  readonly #out: Half;
  #closed = false;

  constructor(incoming: Half, outgoing: Half, local: number, remote: number) {
    this.#in = incoming;
    this.#out = outgoing;
    this.localAddr = addr(local);
    this.remoteAddr = addr(remote);
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closed) throw new Deno.errors.BadResource("closed");
      const chunk = this.#in.chunks[0];
      if (chunk) {
        const n = Math.min(chunk.length, buffer.length);
        buffer.set(chunk.subarray(0, n));
        if (n === chunk.length) this.#in.chunks.shift();
        else this.#in.chunks[0] = chunk.subarray(n);
        return n;
      }
      if (this.#in.ended) return null;
      await new Promise<void>((resolve) => this.#in.waiters.push(resolve));
    }
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#closed || this.#out.ended) {
      return Promise.reject(new Deno.errors.BrokenPipe("closed"));
    }
    this.#out.chunks.push(bytes.slice());
    this.#out.wake();
    return Promise.resolve(bytes.length);
  }

  closeWrite(): Promise<void> {
    this.#out.ended = true;
    this.#out.wake();
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) throw new Deno.errors.BadResource("already closed");
    this.#closed = true;
    this.#out.ended = true;
    this.#out.wake();
    this.#in.wake();
  }
}

/** Two connected in-memory TCP streams. */
export function connPair(): [StreamConn, StreamConn] {
  const ab = new Half();
  const ba = new Half();
  return [new MemoryConn(ba, ab, 1111, 2222), new MemoryConn(ab, ba, 2222, 1111)];
}

/** A TCP listener in memory; tests hand it connections with {@linkcode MemoryListener.connect}. */
export class MemoryListener implements StreamListener {
  readonly local: Endpoint;
  readonly #conns = new Queue<StreamConn>();
  /** Whether {@linkcode MemoryListener.open} was called (a harness hands out several listeners). */
  opened = false;

  constructor(port = 45000) {
    this.local = { ip: "0.0.0.0", port };
  }

  /** Mark as handed out, and return itself. */
  open(): this {
    this.opened = true;
    return this;
  }

  /** A peer connects: returns the peer's end. */
  connect(): StreamConn {
    const [ours, theirs] = connPair();
    this.#conns.put(ours);
    return theirs;
  }

  close(): void {
    this.#conns.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamConn> {
    for (;;) {
      const conn = await this.#conns.take();
      if (conn === null) return;
      yield conn;
    }
  }
}

/** Read from `conn` until `count` bytes came, as text. */
export async function readText(conn: StreamConn, count: number): Promise<string> {
  const out: number[] = [];
  const buffer = new Uint8Array(count);
  while (out.length < count) {
    const n = await conn.read(buffer.subarray(0, count - out.length));
    if (n === null) break;
    out.push(...buffer.subarray(0, n));
  }
  return new TextDecoder().decode(new Uint8Array(out));
}

/** A UI driven by a script of input lines, recording everything printed. */
export class ScriptedUi implements AgentUi {
  readonly interactive: boolean;
  readonly output: string[] = [];
  readonly questions: string[] = [];
  readonly #input = new Queue<string>();
  #printed: Array<() => void> = [];
  onInterrupt: () => void = () => {};
  closed = false;

  constructor(interactive: boolean) {
    this.interactive = interactive;
  }

  /** The user types `line`. */
  type(line: string): void {
    this.#input.put(line);
  }

  /** The input ends. */
  end(): void {
    this.#input.end();
  }

  info(text: string): void {
    this.#print(text);
  }
  warn(text: string): void {
    this.#print(text);
  }
  chat(nick: string, text: string, context?: string): void {
    this.#print(`${context === undefined ? "" : `[${context}] `}${nick}: ${text}`);
  }
  setPrompt(): void {}
  readLine(): Promise<string | null> {
    return this.#input.take();
  }
  ask(question: string): Promise<string | null> {
    this.questions.push(question);
    this.#print(`? ${question}`);
    return this.#input.take();
  }
  close(): void {
    this.closed = true;
  }

  /** Wait until a printed line matches `pattern`. */
  async waitFor(pattern: RegExp): Promise<string> {
    for (;;) {
      const found = this.output.find((line) => pattern.test(line));
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => this.#printed.push(resolve));
    }
  }

  #print(text: string): void {
    this.output.push(text);
    for (const wake of this.#printed.splice(0)) wake();
  }
}

/** A log sink in memory. */
export class MemorySink implements LogSink {
  text = "";
  writes = 0;
  closed = false;
  write(text: string): Promise<void> {
    this.text += text;
    this.writes++;
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
}
