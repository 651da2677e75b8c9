/**
 * The agent's standard output, written so that the protocol never waits on
 * it: text is queued and written in the background; when nobody reads (a full
 * pipe, a terminal stopped with Ctrl-S) and the queue reaches its bound, more
 * text is dropped, and one marker line says how many lines were lost once
 * there is room again.
 *
 * @module
 */

/** Options of {@linkcode BoundedOutput}. */
export interface BoundedOutputOptions {
  /** Write some of `bytes`; resolves with how many were written (`Deno.stdout.write`). */
  readonly write: (bytes: Uint8Array) => Promise<number>;
  /** Most bytes queued and not yet written; past it, text is dropped. Default: 256 KiB. */
  readonly maxQueuedBytes?: number;
}

const encoder = new TextEncoder();

/** The marker line written where `count` lines of output were dropped. */
export function droppedMarker(count: number): string {
  return `[${count} line${count === 1 ? "" : "s"} of output dropped: nobody was reading it]\n`;
}

/**
 * A writer that never blocks its caller and holds a bounded number of bytes.
 *
 * @example
 * ```ts
 * const out = new BoundedOutput({ write: (b) => Deno.stdout.write(b) });
 * out.write("Registered laura@bb.com\n"); // returns at once
 * await out.flush(1_000); // before exiting
 * ```
 */
export class BoundedOutput {
  readonly #write: (bytes: Uint8Array) => Promise<number>;
  readonly #max: number;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #dropped = 0;
  #writing: Promise<void> | undefined;
  #failed = false;

  constructor(options: BoundedOutputOptions) {
    this.#write = options.write;
    this.#max = options.maxQueuedBytes ?? 256 * 1024;
  }

  /** Lines dropped since the last marker. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Bytes queued and not yet written. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /** Queue `text`; never waits. Dropped (and counted) when the queue is full. */
  write(text: string): void {
    if (this.#failed) return;
    const bytes = encoder.encode(text);
    if (this.#queued + bytes.length > this.#max) {
      this.#dropped += Math.max(1, text.split("\n").length - 1);
      return;
    }
    if (this.#dropped > 0) {
      const marker = encoder.encode(droppedMarker(this.#dropped));
      if (this.#queued + marker.length + bytes.length > this.#max) {
        this.#dropped += Math.max(1, text.split("\n").length - 1);
        return;
      }
      this.#dropped = 0;
      this.#push(marker);
    }
    this.#push(bytes);
  }

  #push(bytes: Uint8Array): void {
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const chunk = this.#take();
        let offset = 0;
        while (offset < chunk.length) offset += await this.#write(chunk.subarray(offset));
        this.#queued -= chunk.length;
      }
    } catch {
      // The output is gone (closed pipe): nothing more can be shown.
      this.#failed = true;
      this.#queue = [];
      this.#queued = 0;
    } finally {
      this.#writing = undefined;
    }
  }

  #take(): Uint8Array {
    if (this.#queue.length === 1) return this.#queue.shift()!;
    const out = new Uint8Array(this.#queue.reduce((n, part) => n + part.length, 0));
    let offset = 0;
    for (const part of this.#queue.splice(0)) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  /** Wait until everything queued is written, or `timeoutMs` passes (the output may be stuck). */
  async flush(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    try {
      while (this.#writing) {
        const writing = this.#writing;
        if (await Promise.race([writing.then(() => true), late.then(() => false)]) === false) {
          return;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
