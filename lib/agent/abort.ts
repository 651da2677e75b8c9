/**
 * Small helpers to stop waiting when an `AbortSignal` fires.
 *
 * @module
 */

import type { StreamConn } from "../transport/tcp.ts";

/** Resolves with `null` as soon as `signal` aborts, else with `promise`'s value. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(null);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** `promise`'s connection, or `null` if `signal` aborts first (a connection arriving later is closed). */
export function unlessAborted(
  promise: Promise<StreamConn>,
  signal: AbortSignal,
): Promise<StreamConn | null> {
  if (signal.aborted) {
    promise.then(closeQuietly, () => {});
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      promise.then(closeQuietly, () => {});
      resolve(null);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** Close `conn` if `signal` aborts; returns the function that stops watching. */
export function closeOnAbort(conn: StreamConn, signal: AbortSignal): () => void {
  const onAbort = () => closeQuietly(conn);
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

function closeQuietly(conn: StreamConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
