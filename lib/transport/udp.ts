/**
 * UDP datagram sockets: the seam between the PLUMI core and `Deno.listenDatagram`.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";

/** One datagram received, with its sender. */
export interface Datagram {
  readonly bytes: Uint8Array;
  readonly from: Endpoint;
}

/** A bound UDP socket. The node and agent take these through their options. */
export interface DatagramSocket extends AsyncDisposable {
  /** The address actually bound (the port is known after binding port 0). */
  readonly local: Endpoint;
  /**
   * Send one datagram. Resolves `false` (never throws) when the operating
   * system refused it, e.g. an unreachable destination.
   */
  send(bytes: Uint8Array, to: Endpoint): Promise<boolean>;
  /** Wait for the next datagram; `null` once the socket is closed. */
  receive(): Promise<Datagram | null>;
  /** Close the socket; pending and later `receive` calls return `null`. */
  close(): void;
}

/** Largest datagram read in full; longer ones are truncated by the OS to this size. */
const RECEIVE_BUFFER = 65_536;

class DenoDatagramSocket implements DatagramSocket {
  readonly local: Endpoint;
  #conn: Deno.DatagramConn;
  #closed = false;
  #buffer = new Uint8Array(RECEIVE_BUFFER);
  /** The shared buffer is in use by a pending receive (a second, concurrent one gets its own). */
  #receiving = false;
  /** One string per sender IP: a node keeping a million registrations keeps few distinct IPs. */
  #ips = new Map<string, string>();

  constructor(conn: Deno.DatagramConn) {
    this.#conn = conn;
    const addr = conn.addr as Deno.NetAddr;
    this.local = { ip: addr.hostname, port: addr.port };
  }

  async send(bytes: Uint8Array, to: Endpoint): Promise<boolean> {
    if (this.#closed) return false;
    try {
      await this.#conn.send(bytes, { transport: "udp", hostname: to.ip, port: to.port });
      return true;
    } catch {
      return false;
    }
  }

  async receive(): Promise<Datagram | null> {
    while (!this.#closed) {
      try {
        // One buffer reused for every datagram, and only the datagram copied out: a fresh
        // 64 KB buffer per datagram made the garbage collector a fifth of the node's work.
        const buffer = this.#receiving ? new Uint8Array(RECEIVE_BUFFER) : this.#buffer;
        this.#receiving = true;
        let received: [Uint8Array, Deno.Addr];
        try {
          received = await this.#conn.receive(buffer);
        } finally {
          if (buffer === this.#buffer) this.#receiving = false;
        }
        const [bytes, addr] = received;
        const net = addr as Deno.NetAddr;
        return { bytes: bytes.slice(), from: { ip: this.#intern(net.hostname), port: net.port } };
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return null;
        // ICMP errors (e.g. port unreachable after an earlier send) surface
        // here on some systems; they concern a past send, not this socket.
      }
    }
    return null;
  }

  #intern(ip: string): string {
    const known = this.#ips.get(ip);
    if (known !== undefined) return known;
    if (this.#ips.size >= 65_536) this.#ips.clear();
    this.#ips.set(ip, ip);
    return ip;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
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
 * Bind a UDP socket on `ip:port` (port 0 picks a free port).
 * Needs `--unstable-net` and `--allow-net`.
 *
 * @example
 * ```ts
 * await using socket = bindUdp({ ip: "127.0.0.1", port: 0 });
 * await socket.send(new TextEncoder().encode("PLa@x:b@y"), { ip: "127.0.0.1", port: 3344 });
 * ```
 */
export function bindUdp(at: Endpoint): DatagramSocket {
  return new DenoDatagramSocket(
    Deno.listenDatagram({ transport: "udp", hostname: at.ip, port: at.port }),
  );
}
