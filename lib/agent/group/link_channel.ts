/**
 * The encrypted side of a group link (`link.ts`): the handshake messages in
 * `H` frames, and group records sealed in `E` frames once the handshake is
 * over (`sealed.ts`), batched while the socket is busy.
 *
 * @module
 */

import {
  HANDSHAKE_FRAME,
  MAX_HANDSHAKE_BYTES,
  PieceJoiner,
  RECORD_FRAME,
  type SecureChannel,
} from "../../crypto/mod.ts";
import type { PmiFrame } from "../../pmi/frame.ts";
import type { PmiLink } from "../chat/pmi_link.ts";
import { ChannelError } from "../chat/secure.ts";
import { GroupProtocolError, HandshakeError, OverloadError } from "../errors.ts";
import { groupLinkText, why } from "../terminal/texts.ts";
import type { GroupRecord } from "./wire.ts";
import { RecordOpener, sealRecords } from "./sealed.ts";

/** A record, or the peer's new nickname (see `link.ts`). */
type Event = GroupRecord | { readonly kind: "nick"; readonly nick: string };

/** Read one whole handshake message from `H` frames. */
export async function readHandshake(link: PmiLink): Promise<Uint8Array> {
  const joiner = new PieceJoiner(MAX_HANDSHAKE_BYTES);
  for (;;) {
    const frame: PmiFrame | null = await link.next();
    if (frame === null) throw new HandshakeError(why.closedInHandshake());
    if (frame.kind !== "extension" || frame.type !== HANDSHAKE_FRAME) {
      throw new HandshakeError(groupLinkText.notEncrypted());
    }
    const step = joiner.push(frame.info);
    if (step.kind === "error") throw new HandshakeError(step.reason);
    if (step.kind === "message") return step.message;
  }
}

/** Most record bytes waiting to be sealed, beside what the link has queued. */
const MAX_PENDING_BYTES = 1024 * 1024;

/** The sealed side of a link: records out in `E` frames, records in from them. */
export class SealedRecords {
  readonly #link: PmiLink;
  readonly #channel: SecureChannel;
  readonly #opener: RecordOpener;
  readonly #received: GroupRecord[] = [];
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #sealing = false;

  /** Records over `link`, sealed with `channel` (both directions). */
  constructor(link: PmiLink, channel: SecureChannel) {
    this.#link = link;
    this.#channel = channel;
    this.#opener = new RecordOpener(channel);
  }

  /**
   * Queue one record's text. Records queued while the socket is busy are
   * sealed together once it drains; a record alone goes out at once.
   */
  send(text: Uint8Array): boolean {
    if (this.#link.closed) return false;
    this.#pending.push(text);
    this.#pendingBytes += text.length;
    if (this.#pendingBytes + this.#link.queuedBytes > MAX_PENDING_BYTES) {
      this.#link.fail(new OverloadError(why.notReading(1024)));
      return false;
    }
    if (!this.#link.writing) return this.seal();
    if (!this.#sealing) {
      this.#sealing = true;
      void this.#link.drained().then(() => {
        this.#sealing = false;
        this.seal();
      });
    }
    return true;
  }

  /** Seal what waits and queue it on the link. */
  seal(): boolean {
    if (this.#pending.length === 0) return !this.#link.closed;
    const records = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    return this.#link.write(sealRecords(this.#channel, records));
  }

  /** The next record; `null` at the end of the stream. Throws (and fails the link) on bad data. */
  async next(): Promise<Event | null> {
    for (;;) {
      const queued = this.#received.shift();
      if (queued) return queued;
      const frame = await this.#link.next();
      if (frame === null) return null;
      if (frame.kind !== "extension" || frame.type !== RECORD_FRAME) {
        throw this.#fail(new ChannelError(groupLinkText.clearFrame()));
      }
      const opened = this.#opener.push(frame.info);
      if (opened.kind === "more") continue;
      if (opened.kind === "error") {
        throw this.#fail(
          opened.channel
            ? new ChannelError(opened.message)
            : new GroupProtocolError(opened.message),
        );
      }
      for (const result of opened.records) {
        if (!result.ok) throw this.#fail(new GroupProtocolError(result.message));
        this.#received.push(result.record);
      }
    }
  }

  #fail(error: Error): Error {
    this.#link.fail(error);
    return error;
  }
}
