/**
 * The operational log: what happened to the node as a service — start,
 * stop, reloads, bans, store and disk errors — one line per event with its
 * time and level, as text or JSON lines, in a file beside the packet log.
 * It is a LogTape sink added to the diagnostics already configured (which
 * keep going to stderr at their own level); events of level `info` and
 * above reach the file. Writing never blocks the node: lines wait in a
 * bounded queue (the excess is counted in `dropped`), and the file can be
 * reopened (SIGHUP) and rotates with the packet log's settings.
 *
 * @module
 */

import {
  compareLogLevel,
  configure,
  getConfig,
  getJsonLinesFormatter,
  getTextFormatter,
  type LogLevel,
  type LogRecord,
  type Sink,
  withFilter,
} from "#log";
import { LogFile } from "../log_file.ts";

/** Options of {@linkcode OpLog.open}. */
export interface OpLogOptions {
  /** The file. */
  readonly path: string;
  /** Lines as text (`2026-12-01 12:00:00.000 +00:00 [INF] lumi·node: …`) or JSON. Default: text. */
  readonly format?: "text" | "json";
  /** Rotate at this many bytes; 0 never. Default: 0. */
  readonly maxFileBytes?: number;
  /** Rotated files kept. Default: 5. */
  readonly keep?: number;
  /** Most characters waiting to be written; lines beyond are dropped. Default: 1 Mi. */
  readonly maxQueued?: number;
}

/** The operational log file and its LogTape sink. */
export class OpLog implements AsyncDisposable {
  readonly #file: LogFile;
  readonly #format: (record: LogRecord) => string;
  readonly #options: OpLogOptions;
  #queue: string[] = [];
  #queued = 0;
  #writing: Promise<void> | undefined;
  #restore: (() => Promise<void>) | undefined;
  /** Lines dropped because the queue was full or the file could not be written. */
  dropped = 0;

  private constructor(file: LogFile, options: OpLogOptions) {
    this.#file = file;
    this.#options = options;
    this.#format = options.format === "json" ? getJsonLinesFormatter() : getTextFormatter();
  }

  /** Open (append to) the file, created 0600. */
  static async open(options: OpLogOptions): Promise<OpLog> {
    return new OpLog(await LogFile.open(options.path), options);
  }

  /** The LogTape sink that writes here. */
  readonly sink: Sink = (record) => {
    const line = this.#format(record);
    if (this.#queued + line.length > (this.#options.maxQueued ?? 2 ** 20)) {
      this.dropped++;
      return;
    }
    this.#queue.push(line);
    this.#queued += line.length;
    this.#writing ??= this.#drain();
  };

  async #drain(): Promise<void> {
    const encoder = new TextEncoder();
    while (this.#queue.length > 0) {
      const text = this.#queue.join("");
      const lines = this.#queue.length;
      this.#queue = [];
      this.#queued = 0;
      try {
        await this.#file.write(encoder.encode(text));
        const max = this.#options.maxFileBytes ?? 0;
        if (max > 0 && this.#file.size >= max) await this.#file.rotate(this.#options.keep ?? 5);
      } catch {
        // A disk that fails is told on stderr by the packet log and the store; here lines are counted.
        this.dropped += lines;
      }
    }
    this.#writing = undefined;
  }

  /** Everything queued so far is written (or dropped). */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
  }

  /** Start a fresh file at the same path (after logrotate moved it away). */
  async reopen(): Promise<void> {
    await this.flush();
    await this.#file.reopen();
  }

  /**
   * Add the sink to the diagnostics configured now: the `lumi` loggers send
   * it events of level `info` and above, and the other sinks keep the level
   * they had. Undone by {@linkcode close}.
   */
  async install(): Promise<void> {
    const previous = getConfig();
    const lumi = previous?.loggers.find((l) => [l.category].flat().join(".") === "lumi");
    const level: LogLevel = lumi?.lowestLevel ?? "trace";
    const sinks: Record<string, Sink> = {};
    for (const [name, sink] of Object.entries(previous?.sinks ?? {})) {
      sinks[name] = withFilter(sink, level);
    }
    sinks["ops"] = withFilter(this.sink, "info");
    const lowest = compareLogLevel(level, "info") < 0 ? level : "info";
    const loggers = (previous?.loggers ?? []).filter((l) => l !== lumi);
    loggers.push({
      ...lumi,
      category: ["lumi"],
      lowestLevel: lowest,
      sinks: [...(lumi?.sinks ?? []), "ops"],
    });
    await configure({ ...previous, reset: true, sinks, loggers });
    this.#restore = async () => {
      if (previous) await configure({ ...previous, reset: true });
    };
  }

  /** Put the diagnostics back as they were, write what is queued, close the file. Idempotent. */
  async close(): Promise<void> {
    const restore = this.#restore;
    this.#restore = undefined;
    await restore?.();
    await this.flush();
    this.#file.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
