/**
 * A bare UDP socket on loopback that plays an agent, another node or a DNS
 * server in tests: send a PLUMI string, await the next datagram with a timeout.
 *
 * @module
 */

import type { Endpoint } from "../../lib/plumi/address.ts";
import { bindUdp, type Datagram, type DatagramSocket } from "../../lib/transport/udp.ts";

/** One datagram received by a {@linkcode UdpPeer}. */
export interface Received {
  /** The bytes as text, one character per byte (PLUMI is ASCII). */
  readonly text: string;
  readonly bytes: Uint8Array;
  readonly from: Endpoint;
}

/** No datagram arrived in time. */
export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TimeoutError";
  }
}

/** Bytes to text, one character per byte, so that the text is byte-exact. */
export function bytesToText(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return text;
}

/** Text to bytes, one byte per character (codes above 0xff are refused). */
export function textToBytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new RangeError(`character ${i} of the packet is not a byte`);
    bytes[i] = code;
  }
  return bytes;
}

/**
 * A bound UDP socket whose datagrams queue up until a test asks for them.
 *
 * @example
 * ```ts
 * await using agent = UdpPeer.open();
 * const reply = await agent.request("PRlaura@bb.com", node);
 * assertEquals(reply.text, "RR0");
 * ```
 */
export class UdpPeer implements AsyncDisposable {
  /** Name used in failure messages. */
  readonly name: string;
  readonly #socket: DatagramSocket;
  readonly #queue: Datagram[] = [];
  #wake: (() => void) | undefined;
  #closed = false;
  readonly #pump: Promise<void>;

  private constructor(socket: DatagramSocket, name: string) {
    this.#socket = socket;
    this.name = name;
    this.#pump = (async () => {
      for (;;) {
        const datagram = await socket.receive();
        if (!datagram) break;
        this.#queue.push(datagram);
        this.#wake?.();
      }
      this.#closed = true;
      this.#wake?.();
    })();
  }

  /** Bind a UDP socket on `ip` (default 127.0.0.1), port 0. */
  static open(name = "peer", ip = "127.0.0.1"): UdpPeer {
    return new UdpPeer(bindUdp({ ip, port: 0 }), name);
  }

  /** The address the socket is bound to. */
  get local(): Endpoint {
    return this.#socket.local;
  }

  /** Send one datagram; throws when the operating system refuses it. */
  async send(packet: string | Uint8Array, to: Endpoint): Promise<void> {
    const bytes = typeof packet === "string" ? textToBytes(packet) : packet;
    if (!await this.#socket.send(bytes, to)) {
      throw new Error(`${this.name}: cannot send ${bytes.length} bytes to ${to.ip}:${to.port}`);
    }
  }

  /**
   * The next datagram; throws {@linkcode TimeoutError} after `timeoutMs`
   * (default 3 000), or an `Error` once the socket is closed and nothing is left.
   */
  async receive(timeoutMs = 3_000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (this.#closed) throw new Error(`${this.name}: the socket is closed`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new TimeoutError(`${this.name}: no datagram within ${timeoutMs} ms`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    const { bytes, from } = this.#queue.shift()!;
    return { text: bytesToText(bytes), bytes, from };
  }

  /** Send `packet` to `to` and return the next datagram received. */
  async request(packet: string | Uint8Array, to: Endpoint, timeoutMs?: number): Promise<Received> {
    await this.send(packet, to);
    return await this.receive(timeoutMs);
  }

  /** Datagrams received and not yet taken, as text. */
  get pending(): string[] {
    return this.#queue.map((d) => bytesToText(d.bytes));
  }

  /** Close the socket. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#socket.close();
    await this.#pump;
  }
}
