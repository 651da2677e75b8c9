/**
 * Unix-domain stream sockets for the node's control channel: the seam over
 * `Deno.listen` / `Deno.connect` with `transport: "unix"`.
 *
 * A listening socket is made owner-only (mode 0600) before anyone can reach
 * it: it is bound inside a fresh private folder (mode 0700) and only then
 * renamed to its path, so there is no moment when another user could connect.
 *
 * @module
 */

/** A connection on a Unix socket (the subset of `Deno.Conn` the control channel uses). */
export type UnixConn = Pick<Deno.Conn, "read" | "write" | "close" | "closeWrite">;

/** A listening Unix socket; `close()` also removes its file. */
export interface UnixListener extends AsyncIterable<UnixConn> {
  /** The socket's path. */
  readonly path: string;
  close(): void;
}

/** A file at a socket's path that is not a socket: it is never removed. */
export class NotASocketError extends Error {
  /** The path in the way. */
  readonly path: string;

  constructor(path: string) {
    super(
      `${path} exists and is not a socket: not removed (move it away to use the control channel)`,
    );
    this.name = "NotASocketError";
    this.path = path;
  }
}

/**
 * Listen on `path`, owner-only (0600). A socket file already there is
 * replaced: call this only while holding what proves no live process owns it
 * (the node's file lock). Throws {@linkcode NotASocketError} when something
 * else is at `path`.
 */
export async function listenUnix(path: string): Promise<UnixListener> {
  const old = await Deno.lstat(path).catch(() => undefined);
  if (old && !old.isSocket) throw new NotASocketError(path);
  const slash = path.lastIndexOf("/");
  const folder = slash >= 0 ? path.slice(0, slash) || "/" : ".";
  const privateDir = await Deno.makeTempDir({ dir: folder, prefix: ".lumi-ctl-" });
  let listener: Deno.UnixListener;
  try {
    const inner = `${privateDir}/s`;
    listener = Deno.listen({ transport: "unix", path: inner });
    try {
      await Deno.chmod(inner, 0o600);
      await Deno.rename(inner, path);
    } catch (error) {
      listener.close();
      throw error;
    }
  } finally {
    await Deno.remove(privateDir, { recursive: true }).catch(() => {});
  }
  const ino = (await Deno.lstat(path)).ino;
  let closed = false;
  return {
    path,
    close() {
      if (closed) return;
      closed = true;
      try {
        listener.close();
      } catch {
        // already closed
      }
      try {
        // Only our own socket: not one a later node bound at the same path.
        if (Deno.lstatSync(path).ino === ino) Deno.removeSync(path);
      } catch {
        // gone already
      }
    },
    [Symbol.asyncIterator]: () => listener[Symbol.asyncIterator](),
  };
}

/**
 * Connect to the socket at `path`. A Unix connect does not wait on a peer:
 * it succeeds, or fails at once (`NotFound`: no socket; `ConnectionRefused`:
 * nobody listens, a file left by a process that died).
 */
export async function connectUnix(path: string): Promise<UnixConn> {
  return await Deno.connect({ transport: "unix", path });
}
