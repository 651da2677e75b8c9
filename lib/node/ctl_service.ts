/**
 * The node as a service: what `runNode` starts beside the packet loop —
 * the operational log, the control socket, the metrics endpoint — and the
 * reload that SIGHUP asks for. One call to start them, one to stop them.
 *
 * @module
 */

import { getLogger } from "#log";
import { type Endpoint, formatEndpoint } from "../plumi/address.ts";
import { NotASocketError } from "../transport/unix.ts";
import { connectUnix } from "../transport/unix.ts";
import type { AdminConsole } from "./console.ts";
import { controlPath, ControlServer } from "./ctl.ts";
import type { NodeMetrics } from "./metrics.ts";
import type { OpLog } from "./oplog.ts";

/** Options of {@linkcode startOperations}. */
export interface OperationsOptions {
  /** Runs the commands of the control socket and of reloads. */
  readonly admin: AdminConsole;
  /** The configuration file, which names the control socket (`x.cfg` → `x.ctl`). */
  readonly configPath: string;
  /** Open the control socket. Default: true. */
  readonly control?: boolean;
  /** The metrics, and where to serve them. Default: none. */
  readonly metrics?: { readonly registry: NodeMetrics; readonly listen: Endpoint };
  /** The operational log, installed already. Default: none. */
  readonly opLog?: OpLog;
  /** Reload when this dispatches a `reload` event (SIGHUP). Default: none. */
  readonly reloads?: EventTarget;
  /** Where the answer of a reload asked by signal is shown. */
  readonly write: (text: string) => void;
}

/** What {@linkcode startOperations} started. */
export interface Operations extends AsyncDisposable {
  /** The control socket's path, when it is open. */
  readonly controlPath: string | undefined;
  /** The metrics endpoint, when it is served. */
  readonly metricsAt: Endpoint | undefined;
  /** Stop them all. */
  close(): Promise<void>;
}

const logger = getLogger(["lumi", "node"]);

/**
 * Open the control socket and the metrics endpoint, and listen for reloads.
 * What cannot be started is logged (the node serves without it): a control
 * socket another live node answers on, a file in its place, a metrics
 * address in use.
 */
export async function startOperations(options: OperationsOptions): Promise<Operations> {
  let control: ControlServer | undefined;
  if (options.control ?? true) {
    const path = controlPath(options.configPath);
    control = await openControl(path, options.admin);
  }
  let metricsAt: Endpoint | undefined;
  if (options.metrics) {
    try {
      metricsAt = options.metrics.registry.listen(options.metrics.listen);
      options.write(`Metrics on http://${formatEndpoint(metricsAt)}/metrics\n`);
    } catch (error) {
      logger.error("Cannot serve metrics on {at}: {error} (the node runs without them)", {
        at: formatEndpoint(options.metrics.listen),
        error,
      });
    }
  }
  let reloading = Promise.resolve();
  const onReload = () => {
    reloading = reloading.then(async () => {
      const result = await options.admin.run("reload", []);
      const text = result.text.replace(/\n/g, " ");
      options.write(`SIGHUP: ${result.text}\n`);
      if (result.status === "ok") logger.info("Reload (SIGHUP): {text}", { text });
      else logger.error("Reload (SIGHUP) failed: {text}", { text });
    });
  };
  options.reloads?.addEventListener("reload", onReload);
  const close = async () => {
    options.reloads?.removeEventListener("reload", onReload);
    await reloading;
    await control?.close();
    await options.metrics?.registry.close();
  };
  return { controlPath: control?.path, metricsAt, close, [Symbol.asyncDispose]: close };
}

/** The control server at `path`, or `undefined` (logged) when it cannot be had. */
async function openControl(path: string, admin: AdminConsole): Promise<ControlServer | undefined> {
  // A socket left by a node that died is replaced; one a live node answers on is not.
  const live = await connectUnix(path).then((conn) => {
    conn.close();
    return true;
  }, () => false);
  if (live) {
    logger.error("Another node answers on the control socket {path}: no control channel", {
      path,
    });
    return undefined;
  }
  try {
    return await ControlServer.open({
      path,
      admin,
      onCommand: (request, answer) => {
        // Only commands that change something; never a password.
        if (
          !["add", "del", "delete", "remove", "rm", "passwd", "nopasswd", "reload"].includes(
            request.command,
          )
        ) return;
        const args = request.command === "passwd" ? request.args.slice(0, 1) : request.args;
        logger.info("ctl {command} {args}: {status}: {text}", {
          command: request.command,
          args: args.join(" "),
          status: answer.status,
          text: answer.text.replace(/\n/g, " "),
        });
      },
    });
  } catch (error) {
    const why = error instanceof NotASocketError ? error.message : String(error);
    logger.error("Cannot open the control socket {path}: {why} (the node runs without it)", {
      path,
      why,
    });
    return undefined;
  }
}
