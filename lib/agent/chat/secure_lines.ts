/**
 * The lines of an encrypted conversation, both ways (PROTOCOL.md, "Encrypted
 * conversations" and "Message ids and receipts"): lines typed in a burst are
 * sealed together into `E` records; with receipts, each line carries a
 * message id (an `I` record before its `L` record), the receiver answers `A`
 * records and drops a line whose id it saw already, and the lines a peer did
 * not acknowledge are sent again, first, in the next conversation with it.
 *
 * Receipts are negotiated inside the channel: each side's first record is
 * its hello (`R`). An agent of before receipts sends none and skips `I`, `A`
 * and `R`: it sees exactly the lines, as before, and nothing is sent to it
 * twice (what waits for it is given up, not sent again).
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";
import {
  encodePieces,
  MAX_RECORD_BYTES,
  PieceJoiner,
  RECORD_FRAME,
  type SecureChannel,
} from "../../crypto/mod.ts";
import type { PmiFrame } from "../../pmi/frame.ts";
import { splitUtf8 } from "../../pmi/frame.ts";
import { OverloadError } from "../errors.ts";
import { why } from "../terminal/texts.ts";
import type { PmiLink } from "./pmi_link.ts";
import type { PeerReceipts } from "./receipts.ts";
import {
  decodeRecord,
  encodeHello,
  encodeIds,
  encodeLines,
  MAX_IDS_PER_RECORD,
  newMessageId,
} from "./records.ts";
import { ChannelError } from "./secure.ts";

/** How long a conversation waits for the peer's receipts hello, ms. */
export const DEFAULT_HELLO_TIMEOUT_MS = 5_000;
/** Most text bytes of one line entry (a longer line: several entries). */
export const RECORD_TEXT_BYTES = 16_000;
/** Lines typed in a burst are sealed together up to this many plaintext bytes per record. */
const BATCH_PLAIN_BYTES = 4_096;
/** Most bytes of lines waiting to be sealed, beside what the link has queued. */
const MAX_PENDING_BYTES = 1024 * 1024;

/** Receipts with one peer, for one conversation. */
export interface LineReceipts {
  /** What is kept with this peer across conversations. */
  readonly peer: PeerReceipts;
  /** The timer of the hello wait. */
  readonly clock: Clock;
  /** Default: {@linkcode DEFAULT_HELLO_TIMEOUT_MS}. */
  readonly helloTimeoutMs?: number;
}

/** What arrives: lines, and receipts of ours. */
export interface LineHandlers {
  onLine(text: string, messageId?: string): void;
  onDelivered?(messageIds: readonly string[]): void;
}

interface Waiting {
  readonly piece: Uint8Array;
  /** The piece's message id (with receipts). */
  readonly id?: string;
}

/** Both directions of lines over one encrypted channel. */
export class SecureLines {
  readonly #link: PmiLink;
  readonly #channel: SecureChannel;
  readonly #receipts: LineReceipts | undefined;
  readonly #records = new PieceJoiner(MAX_RECORD_BYTES);
  #pending: Waiting[] = [];
  #pendingBytes = 0;
  #acks: string[] = [];
  #sealing = false;
  /** Whether the peer acknowledges (its hello came); `undefined` until its first record. */
  #peerAcks: boolean | undefined;
  /** Lines wait behind those sent again until the peer's hello says whether to send them. */
  #holding = false;
  readonly #resend: Waiting[];
  #helloTimer: TimerHandle | undefined;
  /** Ids of the lines of the next `L` record. */
  #nextIds: readonly string[] | undefined;

  /** Lines over `channel`; with `receipts`, the hello is sent at once. */
  constructor(link: PmiLink, channel: SecureChannel, receipts?: LineReceipts) {
    this.#link = link;
    this.#channel = channel;
    this.#receipts = receipts;
    this.#resend = receipts?.peer.unacked().map(({ piece, id }) => ({ piece, id })) ?? [];
    if (!receipts) return;
    this.#holding = this.#resend.length > 0;
    this.#write(encodeHello());
    this.#helloTimer = receipts.clock.setTimeout(
      () => this.#decide(false),
      receipts.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS,
    );
  }

  /** Whether lines sent now carry message ids (receipts on, and the peer not known to lack them). */
  get carriesIds(): boolean {
    return this.#receipts !== undefined && this.#peerAcks !== false;
  }

  /**
   * Queue one line (a line past 16 KB goes as several entries, each whole
   * inside the channel). With receipts it carries `messageId` (made if not
   * given). Never waits; `false` if the link is over or the peer stopped
   * reading (the link then fails).
   */
  send(text: string, messageId?: string): boolean {
    if (this.#link.closed) return false;
    const pieces = splitUtf8(encoder.encode(text), RECORD_TEXT_BYTES);
    const tracked = this.carriesIds;
    pieces.forEach((piece, i) => {
      const last = i === pieces.length - 1;
      if (!tracked) {
        this.#pending.push({ piece });
      } else {
        const id = last && messageId !== undefined ? messageId : newMessageId();
        this.#receipts!.peer.keep({ id, piece, ...(last && messageId && { lineId: messageId }) });
        this.#pending.push({ piece, id });
      }
      this.#pendingBytes += piece.length;
    });
    if (this.#pendingBytes + this.#link.queuedBytes > MAX_PENDING_BYTES) {
      this.#link.fail(new OverloadError(why.notReading(1024)));
      return false;
    }
    this.#schedule();
    return true;
  }

  /** Seal what waits now (before a flush). */
  flush(): void {
    this.#sealPending();
  }

  /** Stop the hello wait (the conversation ended). */
  close(): void {
    if (this.#helloTimer !== undefined) this.#receipts?.clock.clearTimeout(this.#helloTimer);
    this.#helloTimer = undefined;
  }

  /** A frame of the conversation: a record piece; anything else ends it. */
  open(frame: PmiFrame, handlers: LineHandlers): ChannelError | undefined {
    if (frame.kind !== "extension" || frame.type !== RECORD_FRAME) {
      return new ChannelError("the peer sent a frame in clear inside the encrypted conversation");
    }
    const step = this.#records.push(frame.info);
    if (step.kind === "error") return new ChannelError(step.reason);
    if (step.kind === "more") return undefined;
    const opened = this.#channel.open(step.message);
    if (!opened.ok) return new ChannelError(opened.reason);
    const record = decodeRecord(opened.plaintext);
    // The peer's first record says whether it acknowledges: its hello, or anything else.
    if (this.#receipts && this.#peerAcks === undefined) this.#decide(record.kind === "hello");
    switch (record.kind) {
      case "error":
        return new ChannelError(record.reason);
      case "ids":
        this.#nextIds = record.ids;
        return undefined;
      case "lines":
        this.#lines(record.lines, handlers);
        return undefined;
      case "acks":
        this.#delivered(record.ids, handlers);
        return undefined;
      default:
        // A hello after the first record, or a record of a later version: skipped.
        return undefined;
    }
  }

  #lines(lines: readonly Uint8Array[], handlers: LineHandlers): void {
    const ids = this.#nextIds?.length === lines.length ? this.#nextIds : undefined;
    this.#nextIds = undefined;
    const peer = this.#receipts?.peer;
    lines.forEach((line, i) => {
      const id = ids?.[i];
      if (id === undefined || !peer) return handlers.onLine(decoder.decode(line));
      // A line that came before (sent again after a break) is acknowledged again, not shown.
      if (peer.arrived(id)) handlers.onLine(decoder.decode(line), id);
      this.#acks.push(id);
    });
    if (this.#acks.length > 0) this.#schedule();
  }

  #delivered(ids: readonly string[], handlers: LineHandlers): void {
    const peer = this.#receipts?.peer;
    if (!peer) return;
    const lines: string[] = [];
    for (const id of ids) {
      const entry = peer.ack(id);
      if (entry?.lineId !== undefined) lines.push(entry.lineId);
    }
    if (lines.length > 0) handlers.onDelivered?.(lines);
  }

  /** The peer acknowledges (`true`), or not: then nothing waits for it and nothing is sent again. */
  #decide(acks: boolean): void {
    if (this.#peerAcks !== undefined) return;
    this.close();
    this.#peerAcks = acks;
    const peer = this.#receipts!.peer;
    if (acks) {
      this.#pending = [...(this.#holding ? this.#resend : []), ...this.#pending];
      for (const waiting of this.#resend) this.#pendingBytes += waiting.piece.length;
    } else {
      peer.abandon();
      // Lines queued meanwhile still go, without ids: it would skip the ids anyway.
      this.#pending = this.#pending.map(({ piece }) => ({ piece }));
    }
    this.#holding = false;
    this.#schedule();
  }

  #schedule(): void {
    if (!this.#link.writing) {
      this.#sealPending();
      return;
    }
    if (this.#sealing) return;
    this.#sealing = true;
    void this.#link.drained().then(() => {
      this.#sealing = false;
      this.#sealPending();
    });
  }

  #write(plain: Uint8Array, more?: Uint8Array): boolean {
    const first = encodePieces(RECORD_FRAME, this.#channel.seal(plain));
    if (!more) return this.#link.write(first);
    const second = encodePieces(RECORD_FRAME, this.#channel.seal(more));
    const both = new Uint8Array(first.length + second.length);
    both.set(first);
    both.set(second, first.length);
    return this.#link.write(both);
  }

  /** Seal the receipts and lines waiting into as few records as fit, and queue them. */
  #sealPending(): boolean {
    while (this.#acks.length > 0) {
      if (!this.#write(encodeIds("acks", this.#acks.splice(0, MAX_IDS_PER_RECORD)))) return false;
    }
    if (this.#holding) return true;
    while (this.#pending.length > 0) {
      const withIds = this.#pending[0]!.id !== undefined;
      let size = 1;
      let count = 0;
      // A burst goes in records of about 4 KB (as many lines as one TCP read of a clear
      // conversation brings), so the receiver shows lines at the same pace; a long line alone.
      while (count < this.#pending.length && count < MAX_IDS_PER_RECORD) {
        const next = this.#pending[count]!;
        if ((next.id !== undefined) !== withIds) break;
        if (count > 0 && size + 2 + next.piece.length > BATCH_PLAIN_BYTES) break;
        size += 2 + next.piece.length;
        count++;
      }
      const batch = this.#pending.splice(0, count);
      for (const waiting of batch) this.#pendingBytes -= waiting.piece.length;
      const lines = encodeLines(batch.map((w) => w.piece));
      const ok = withIds
        ? this.#write(encodeIds("ids", batch.map((w) => w.id!)), lines)
        : this.#write(lines);
      if (!ok) return false;
    }
    return true;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
