/**
 * Who may use the web page: a request must carry the random token printed at
 * start (`?token=`, compared in constant time), be addressed to this server's
 * own host name (`Host`: against DNS rebinding, where a hostile site's name
 * comes to point at 127.0.0.1), and, when it comes from a page, from a page
 * of this server (`Origin`: against cross-site WebSocket hijacking). No I/O.
 *
 * @module
 */

import { constantTimeEqual } from "../../auth.ts";
import type { Endpoint } from "../../plumi/address.ts";

const encoder = new TextEncoder();

/** A fresh access token: 32 random bytes, as 64 hex digits. */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether `token` is the expected one, in time that does not depend on where they differ. */
export function tokenMatches(expected: string, token: string | null): boolean {
  if (token === null) return false;
  const a = encoder.encode(expected);
  const b = encoder.encode(token);
  // Same length first (the length of a token is no secret), then every byte.
  return a.length === b.length && constantTimeEqual(a, b);
}

/** Whether `ip` is a loopback address (127.0.0.0/8, ::1). */
export function isLoopback(ip: string): boolean {
  return /^127\.\d+\.\d+\.\d+$/.test(ip) || ip === "::1" || ip === "[::1]";
}

/** The `Host` values that name this server bound at `at`: its IP and port, and `localhost` on loopback. */
export function allowedHosts(at: Endpoint): Set<string> {
  const hosts = new Set([`${at.ip}:${at.port}`]);
  if (isLoopback(at.ip)) {
    hosts.add(`localhost:${at.port}`);
    hosts.add(`127.0.0.1:${at.port}`);
  }
  // Port 80 may be left out of Host and Origin.
  if (at.port === 80) { for (const host of [...hosts]) hosts.add(host.slice(0, -":80".length)); }
  return hosts;
}

/** Why a request is refused, or `undefined` when it may go on. */
export type Refusal = "host" | "origin" | "token" | undefined;

/**
 * Check a request to the server bound at `hosts`: the page and the WebSocket
 * both need the token; an `Origin`, when there is one, must be this server's.
 * Browsers always send it with a WebSocket (and with any cross-site request),
 * so a page of another site is refused; a program with the token (no `Origin`)
 * may connect.
 */
export function checkRequest(request: Request, hosts: ReadonlySet<string>, token: string): Refusal {
  const host = request.headers.get("host")?.toLowerCase();
  if (host === undefined || !hosts.has(host)) return "host";
  const origin = request.headers.get("origin");
  if (origin !== null) {
    let originHost: string;
    try {
      const url = new URL(origin);
      if (url.protocol !== "http:") return "origin";
      originHost = url.host.toLowerCase();
    } catch {
      return "origin";
    }
    if (!hosts.has(originHost)) return "origin";
  }
  const given = new URL(request.url).searchParams.get("token");
  return tokenMatches(token, given) ? undefined : "token";
}
