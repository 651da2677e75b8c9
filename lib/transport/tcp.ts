/**
 * TCP streams for PMI conversations: the seam over `Deno.connect` / `Deno.listen`.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";

/** A TCP connection (the subset of `Deno.Conn` the agent uses). */
export type StreamConn = Pick<
  Deno.Conn,
  "read" | "write" | "close" | "closeWrite" | "localAddr" | "remoteAddr"
>;

/** A TCP listener. */
export interface StreamListener extends AsyncIterable<StreamConn> {
  readonly local: Endpoint;
  close(): void;
}

/** Open a TCP connection, giving up after `timeoutMs` (default 5 s). */
export async function connectTcp(to: Endpoint, timeoutMs = 5_000): Promise<StreamConn> {
  const signal = AbortSignal.timeout(timeoutMs);
  return await Deno.connect({ transport: "tcp", hostname: to.ip, port: to.port, signal });
}

/** Listen for TCP connections on `ip:port` (port 0 picks a free port). */
export function listenTcp(at: Endpoint): StreamListener {
  const listener = Deno.listen({ transport: "tcp", hostname: at.ip, port: at.port });
  const addr = listener.addr;
  return {
    local: { ip: addr.hostname, port: addr.port },
    close: () => {
      try {
        listener.close();
      } catch {
        // already closed
      }
    },
    [Symbol.asyncIterator]: () => listener[Symbol.asyncIterator](),
  };
}
