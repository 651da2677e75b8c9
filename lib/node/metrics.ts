/**
 * Prometheus metrics of a running node (`[metrics] listen = 127.0.0.1:9464`,
 * then `GET /metrics`), in the text format, by `prom-client`.
 *
 * The packet path pays almost nothing: the node's own counters
 * ({@linkcode NodeStats}, the packet log's, the store's) are read by collect
 * callbacks at scrape time; the only work per datagram is one increment in a
 * table of message kinds (by the datagram's first two letters), synchronous,
 * and the handling time is measured on one datagram in
 * {@linkcode SAMPLE_EVERY} only.
 *
 * @module
 */

import { Counter, Gauge, Histogram, Registry } from "#prom";
import type { Endpoint } from "../plumi/address.ts";
import { type HttpListener, serveHttp } from "../transport/http.ts";
import type { DatagramSocket } from "../transport/udp.ts";
import type { Directory } from "./directory.ts";
import type { NodeStats } from "./server.ts";

/** One datagram in this many has its handling time measured. */
export const SAMPLE_EVERY = 64;

/** What the metrics are read from, at scrape time. */
export interface MetricsSources {
  readonly stats: NodeStats;
  readonly directory: Directory;
  /** Lines dropped by the packet log and by the operational log. */
  readonly logDropped?: () => { packets: number; ops: number };
  /** Requests the account database failed. */
  readonly storeErrors?: () => number;
  /** Offline messages: how many are stored now, and the counts of `lib/node/mailbox.ts` by event. */
  readonly mailbox?: () => { stored: number; events: Record<string, number> };
}

const LETTERS = 26;

/** Counts of datagrams by kind (`PR`, `RL`…): two letters, or `other`. */
class KindTable {
  readonly counts = new Float64Array(LETTERS * LETTERS + 1);

  count(bytes: Uint8Array): void {
    const a = bytes[0]! - 65;
    const b = bytes[1]! - 65;
    // Out of range (or a missing byte: NaN) counts as `other`, the last slot.
    const i = a >= 0 && a < LETTERS && b >= 0 && b < LETTERS ? a * LETTERS + b : LETTERS * LETTERS;
    this.counts[i]! += 1;
  }

  *entries(): Generator<[string, number]> {
    for (let i = 0; i < this.counts.length; i++) {
      const n = this.counts[i]!;
      if (n === 0) continue;
      yield [
        i === LETTERS * LETTERS
          ? "other"
          : String.fromCharCode(65 + Math.floor(i / LETTERS), 65 + (i % LETTERS)),
        n,
      ];
    }
  }
}

/** The node's metrics registry, its socket wrapper, and its HTTP endpoint. */
export class NodeMetrics implements AsyncDisposable {
  /** The registry (for tests and for other exporters). */
  readonly registry: Registry = new Registry();
  readonly #received = new KindTable();
  readonly #sent = new KindTable();
  readonly #handling: Histogram;
  #http: HttpListener | undefined;
  #sources: MetricsSources | undefined;

  /** Metrics read from `sources` (or from those {@linkcode attach} gives later). */
  constructor(sources?: MetricsSources) {
    this.#sources = sources;
    const registers = [this.registry];
    const counter = (
      name: string,
      help: string,
      labelNames: string[],
      values: (s: MetricsSources) => Iterable<[Record<string, string>, number]>,
    ) => {
      const read = () => this.#sources;
      return new Counter({
        name,
        help,
        labelNames,
        registers,
        collect() {
          this.reset();
          const s = read();
          if (s) { for (const [labels, n] of values(s)) this.inc(labels, n); }
        },
      });
    };
    const gauge = (name: string, help: string, value: (s: MetricsSources) => number) => {
      const read = () => this.#sources;
      return new Gauge({
        name,
        help,
        registers,
        collect() {
          const s = read();
          this.set(s ? value(s) : 0);
        },
      });
    };
    const byKey = (label: string, counts: Partial<Record<string, number>>) =>
      Object.entries(counts).map((
        [k, n],
      ): [Record<string, string>, number] => [{ [label]: k }, n ?? 0]);
    const kinds = (table: KindTable) =>
      [...table.entries()].map(([kind, n]): [Record<string, string>, number] => [{ kind }, n]);
    counter(
      "lumi_datagrams_received_total",
      "Datagrams that arrived (rate-limited ones too), by message kind (first two letters)",
      ["kind"],
      () => kinds(this.#received),
    );
    counter(
      "lumi_datagrams_sent_total",
      "Datagrams sent, by message kind (first two letters)",
      ["kind"],
      () => kinds(this.#sent),
    );
    counter("lumi_datagrams_total", "Datagrams by result", ["result"], ({ stats }) => [
      [{ result: "received" }, stats.received],
      [{ result: "sent" }, stats.sent],
      [{ result: "forwarded" }, stats.forwarded],
      [{ result: "send-failed" }, stats.sendFailures],
      [{ result: "malformed" }, sum(stats.malformed)],
      [{ result: "dropped" }, sum(stats.dropped)],
    ]);
    counter(
      "lumi_drops_total",
      "Datagrams dropped without an answer, by reason (rate-limited included)",
      ["reason"],
      ({ stats }) => byKey("reason", stats.dropped),
    );
    counter(
      "lumi_malformed_total",
      "Malformed datagrams, by reason",
      ["reason"],
      ({ stats }) => byKey("reason", stats.malformed),
    );
    counter(
      "lumi_bans_total",
      "Sources banned for flooding",
      [],
      ({ stats }) => [[{}, stats.bans]],
    );
    counter(
      "lumi_store_errors_total",
      "Requests the account database failed",
      [],
      (s) => [[{}, s.storeErrors?.() ?? 0]],
    );
    counter(
      "lumi_log_lines_dropped_total",
      "Log lines dropped (the log could not be written)",
      ["log"],
      (s) => {
        const d = s.logDropped?.() ?? { packets: 0, ops: 0 };
        return [[{ log: "packets" }, d.packets], [{ log: "ops" }, d.ops]];
      },
    );
    counter(
      "lumi_mailbox_total",
      "Offline messages, by event (stored, refused-<reason>, fetched, acknowledged, expired, …)",
      ["event"],
      (s) => byKey("event", s.mailbox?.().events ?? {}),
    );
    gauge("lumi_mailbox_messages", "Offline messages stored now", (s) => s.mailbox?.().stored ?? 0);
    gauge("lumi_users", "Users of the domain", (s) => s.directory.size);
    gauge("lumi_users_online", "Users online", (s) => s.directory.onlineCount);
    gauge("lumi_sessions", "Users online with an extended-protocol session", (s) => {
      let n = 0;
      for (const [, registration] of s.directory.online()) if (registration.session) n++;
      return n;
    });
    this.#handling = new Histogram({
      name: "lumi_handling_seconds",
      help: `Time to handle one datagram (one in ${SAMPLE_EVERY} measured)`,
      buckets: [
        0.000_005,
        0.000_01,
        0.000_025,
        0.000_05,
        0.000_1,
        0.000_25,
        0.000_5,
        0.001,
        0.005,
        0.025,
      ],
      registers,
    });
  }

  /** Read the metrics from `sources` from now on. */
  attach(sources: MetricsSources): void {
    this.#sources = sources;
  }

  /**
   * The socket the server is to use: `socket`, counting the datagrams sent
   * by kind (nothing else is added: `receive` is the socket's own).
   */
  wrapSocket(socket: DatagramSocket): DatagramSocket {
    const sent = this.#sent;
    return {
      get local() {
        return socket.local;
      },
      send(bytes, to) {
        sent.count(bytes);
        return socket.send(bytes, to);
      },
      receive: () => socket.receive(),
      close: () => socket.close(),
      [Symbol.asyncDispose]: () => socket[Symbol.asyncDispose](),
    };
  }

  /**
   * Count the datagrams `server` handles by kind, and time one in
   * {@linkcode SAMPLE_EVERY}: its `handleDatagram` (through which its
   * packet loop handles every datagram) is wrapped. Synchronous: no promise
   * or allocation per datagram.
   */
  instrument(server: { handleDatagram(bytes: Uint8Array, from: Endpoint): void }): void {
    const handle = server.handleDatagram.bind(server);
    const received = this.#received;
    const histogram = this.#handling;
    let seen = 0;
    server.handleDatagram = (bytes, from) => {
      received.count(bytes);
      if (++seen % SAMPLE_EVERY !== 0) return handle(bytes, from);
      const start = performance.now();
      handle(bytes, from);
      histogram.observe((performance.now() - start) / 1000);
    };
  }

  /** The metrics in the Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /** Serve `GET /metrics` on `at`; resolves to the address bound. */
  listen(at: Endpoint): Endpoint {
    const http = serveHttp(at, async (request) => {
      const path = new URL(request.url).pathname;
      if (request.method !== "GET" || (path !== "/metrics" && path !== "/")) {
        return new Response("Not found: try GET /metrics\n", { status: 404 });
      }
      return new Response(await this.text(), {
        headers: { "content-type": this.registry.contentType },
      });
    });
    this.#http = http;
    return http.local;
  }

  /** Stop the HTTP endpoint. */
  async close(): Promise<void> {
    await this.#http?.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function sum(counts: Partial<Record<string, number>>): number {
  let n = 0;
  for (const v of Object.values(counts)) n += v ?? 0;
  return n;
}
