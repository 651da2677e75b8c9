/**
 * A small HTTP server (the node's metrics endpoint): the seam over `Deno.serve`.
 *
 * @module
 */

import type { Endpoint } from "../plumi/address.ts";

/** A listening HTTP server. */
export interface HttpListener extends AsyncDisposable {
  /** The address bound (the port is known after binding port 0). */
  readonly local: Endpoint;
  /** Stop accepting; resolves when the connections are closed. */
  close(): Promise<void>;
}

/** Serve HTTP on `at` with `handler`. Throws (e.g. `AddrInUse`) when it cannot listen. */
export function serveHttp(
  at: Endpoint,
  handler: (request: Request) => Response | Promise<Response>,
): HttpListener {
  const server = Deno.serve({ hostname: at.ip, port: at.port, onListen: () => {} }, handler);
  const addr = server.addr;
  let closing: Promise<void> | undefined;
  const close = () => closing ??= server.shutdown();
  return {
    local: { ip: addr.hostname, port: addr.port },
    close,
    [Symbol.asyncDispose]: close,
  };
}
