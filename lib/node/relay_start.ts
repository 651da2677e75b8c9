/**
 * Starting the relay from `[relay]`: listen (through `lib/transport/tcp.ts`),
 * and log every session that ends and every refused connection.
 *
 * @module
 */

import type { Logger } from "#log";
import { type Clock, systemClock } from "../clock.ts";
import { type Endpoint, formatEndpoint } from "../plumi/address.ts";
import { listenTcp, type StreamListener } from "../transport/tcp.ts";
import { RelayService } from "./relay.ts";
import { relayAddresses, type RelayConfig } from "./relay_config.ts";

/** The relay could not start: why, in the administrator's terms. */
export class RelayStartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RelayStartError";
  }
}

/**
 * Open the relay of `config` when it is enabled (else `undefined`); `udp` is
 * the node's UDP endpoint, whose IP is the default listen IP; `clock` times
 * the relay's bounds (the node's clock). Throws {@linkcode RelayStartError}.
 */
export function openRelay(
  config: RelayConfig | undefined,
  udp: Endpoint,
  logger: Logger,
  clock: Clock = systemClock,
  listen: (at: Endpoint) => StreamListener = listenTcp,
): RelayService | undefined {
  if (!config?.enabled) return undefined;
  const at = relayAddresses(config, udp);
  if (at.advertise === undefined) {
    throw new RelayStartError(
      `[relay] listens on ${
        formatEndpoint(at.listen)
      }: give advertise = <the IP agents connect to>`,
    );
  }
  let listener: StreamListener;
  try {
    listener = listen(at.listen);
  } catch (error) {
    throw new RelayStartError(
      `Cannot listen for the relay on TCP ${formatEndpoint(at.listen)}: ${
        error instanceof Error ? error.message : error
      }`,
      { cause: error },
    );
  }
  return new RelayService({
    listener,
    advertised: { ip: at.advertise, port: listener.local.port },
    clock,
    ...(config.limits && { limits: config.limits }),
    onEvent: (event) => {
      if (event.kind === "ended") {
        logger.info(
          "Relay session {caller} -> {callee} ended ({why}): {fromCaller} bytes from the caller, {fromCallee} from the callee",
          { ...event },
        );
      } else {
        logger.info("Relay connection from {ip}:{port} refused: {why}", {
          ...event.from,
          why: event.why,
        });
      }
    },
  });
}
