/**
 * A {@linkcode DatagramSocket} in memory, for running a node in-process
 * (`NodeServer`, `runNode` with `bind`) under a manual clock: the test
 * delivers datagrams and awaits what the node sends, with no real socket
 * and no real time.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";
import type { Datagram, DatagramSocket } from "../transport/udp.ts";

/** A datagram the node sent, as text. */
export interface SentDatagram {
  readonly to: Endpoint;
  readonly text: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An in-memory socket; see the module doc. */
export class MemorySocket implements DatagramSocket {
  readonly local: Endpoint;
  /** Sent and not yet taken by {@linkcode MemorySocket.next} or {@linkcode MemorySocket.take}. */
  readonly #sent: SentDatagram[] = [];
  readonly #inbox: Datagram[] = [];
  #receiver: ((datagram: Datagram | null) => void) | undefined;
  #watcher: (() => void) | undefined;
  #closed = false;

  /** `local`: the address the node believes it is bound to. */
  constructor(local: Endpoint) {
    this.local = local;
  }

  send(bytes: Uint8Array, to: Endpoint): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    this.#sent.push({ to, text: decoder.decode(bytes) });
    const watcher = this.#watcher;
    this.#watcher = undefined;
    watcher?.();
    return Promise.resolve(true);
  }

  receive(): Promise<Datagram | null> {
    const next = this.#inbox.shift();
    if (next) return Promise.resolve(next);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.#receiver = resolve));
  }

  /** Hand the node a datagram from `from`. */
  deliver(text: string | Uint8Array, from: Endpoint): void {
    const datagram = { bytes: typeof text === "string" ? encoder.encode(text) : text, from };
    const receiver = this.#receiver;
    this.#receiver = undefined;
    if (receiver) receiver(datagram);
    else this.#inbox.push(datagram);
  }

  /** Everything sent since the last call, as `ip:port text`. */
  take(): string[] {
    return this.#sent.splice(0).map((d) => `${d.to.ip}:${d.to.port} ${d.text}`);
  }

  /**
   * The next datagram sent (the oldest not taken yet), as `ip:port text`;
   * rejects after `timeoutMs` of real time if none comes (a failing test, not
   * a wait: the node's time is its own clock).
   */
  async next(timeoutMs = 10_000): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (this.#sent.length === 0) {
        if (this.#closed) throw new Error("the socket is closed and nothing more was sent");
        await new Promise<void>((resolve, reject) => {
          this.#watcher = resolve;
          timer = setTimeout(
            () => reject(new Error(`nothing sent within ${timeoutMs} ms`)),
            timeoutMs,
          );
        });
        clearTimeout(timer);
      }
    } finally {
      clearTimeout(timer);
    }
    const d = this.#sent.shift()!;
    return `${d.to.ip}:${d.to.port} ${d.text}`;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const receiver = this.#receiver;
    this.#receiver = undefined;
    receiver?.(null);
    const watcher = this.#watcher;
    this.#watcher = undefined;
    watcher?.();
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
