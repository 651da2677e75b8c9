/**
 * A LUMI group member played by the test, on an encrypted group link
 * (PROTOCOL.md, "Group links"): it exchanges nicknames, runs the Noise
 * handshake with an identity of its own (as the caller, or as an invited
 * callee), and then sends and reads group records sealed in `E` frames, so a
 * test can send exactly the records a real agent would not (a join without an
 * invitation, a capability made for someone else) and read the answers.
 *
 * @module
 */

import {
  ChannelHandshake,
  encodePieces,
  HANDSHAKE_FRAME,
  newIdentity,
  PieceJoiner,
  type RawKeyPair,
  type SecureChannel,
} from "../../lib/crypto/mod.ts";
import { nickOnWire } from "../../lib/agent/chat/secure.ts";
import { groupPrologue, RecordOpener, sealRecords } from "../../lib/agent/group/sealed.ts";
import { formatRecord, type GroupRecord } from "../../lib/agent/group/wire.ts";
import type { Endpoint } from "../../lib/plumi/address.ts";
import { PmiDecoder } from "../../lib/pmi/decoder.ts";
import { encodeNick, type PmiFrame } from "../../lib/pmi/frame.ts";
import { connectTcp, type StreamConn } from "../../lib/transport/tcp.ts";

const encoder = new TextEncoder();

/** Who the test plays: an address, a nickname, and its identity key. */
export interface PlayedMember {
  readonly address: string;
  readonly nick: string;
  /** Default: a fresh key pair. */
  readonly identity?: RawKeyPair;
}

async function writeAll(conn: StreamConn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

/** One end of an encrypted group link, played by the test. */
export class GroupPeer implements AsyncDisposable {
  readonly #conn: StreamConn;
  readonly #decoder = new PmiDecoder({ extensionTypes: "HEG" });
  readonly #frames: PmiFrame[] = [];
  readonly #records: GroupRecord[] = [];
  readonly #buffer = new Uint8Array(65_536);
  #channel: SecureChannel | undefined;
  #opener: RecordOpener | undefined;
  /** The identity the test plays with. */
  readonly identity: RawKeyPair;
  /** The peer's nickname, address and key, once the handshake is over. */
  peer: { nick: string; address: string; key: Uint8Array } | undefined;

  private constructor(conn: StreamConn, identity: RawKeyPair) {
    this.#conn = conn;
    this.identity = identity;
  }

  /** Connect to a group port as `me`, and run the nicknames and the encrypted handshake. */
  static async dial(to: Endpoint, me: PlayedMember): Promise<GroupPeer> {
    const peer = new GroupPeer(await connectTcp(to), me.identity ?? newIdentity());
    await writeAll(peer.#conn, encodeNick(me.nick));
    const nick = await peer.#frame();
    if (nick?.kind !== "nick") throw new Error(`no nickname: ${JSON.stringify(nick)}`);
    const noise = new ChannelHandshake({
      initiator: true,
      identity: peer.identity,
      address: me.address,
      prologue: groupPrologue(nickOnWire(me.nick), nick.text),
    });
    await writeAll(peer.#conn, encodePieces(HANDSHAKE_FRAME, await noise.start()));
    const step = await noise.receive(await peer.#handshake());
    if (step.kind !== "established") throw new Error(`handshake: ${JSON.stringify(step)}`);
    await writeAll(peer.#conn, encodePieces(HANDSHAKE_FRAME, step.send!));
    peer.#established(step.channel, {
      nick: nick.text,
      address: step.peerAddress,
      key: step.peerKey,
    });
    return peer;
  }

  /** Answer a connection made to the test's group port, as the invitee `me`. */
  static async answer(conn: StreamConn, me: PlayedMember): Promise<GroupPeer> {
    const peer = new GroupPeer(conn, me.identity ?? newIdentity());
    const nick = await peer.#frame();
    if (nick?.kind !== "nick") throw new Error(`no nickname: ${JSON.stringify(nick)}`);
    await writeAll(conn, encodeNick(me.nick));
    const noise = new ChannelHandshake({
      initiator: false,
      identity: peer.identity,
      address: me.address,
      prologue: groupPrologue(nick.text, nickOnWire(me.nick)),
    });
    const answer = await noise.receive(await peer.#handshake());
    if (answer.kind !== "send") throw new Error(`handshake: ${JSON.stringify(answer)}`);
    await writeAll(conn, encodePieces(HANDSHAKE_FRAME, answer.send));
    const done = await noise.receive(await peer.#handshake());
    if (done.kind !== "established") throw new Error(`handshake: ${JSON.stringify(done)}`);
    peer.#established(done.channel, {
      nick: nick.text,
      address: done.peerAddress,
      key: done.peerKey,
    });
    return peer;
  }

  #established(channel: SecureChannel, peer: NonNullable<GroupPeer["peer"]>): void {
    this.#channel = channel;
    this.#opener = new RecordOpener(channel);
    this.peer = peer;
  }

  /** Seal and send records. */
  async send(...records: GroupRecord[]): Promise<void> {
    const texts = records.map((r) => encoder.encode(formatRecord(r)));
    await writeAll(this.#conn, sealRecords(this.#channel!, texts));
  }

  /** The next record the agent sent; `null` when it closed the link. Throws after `timeoutMs`. */
  async next(timeoutMs = 5_000): Promise<GroupRecord | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#records.length === 0) {
      const frame = await this.#frame(deadline - Date.now());
      if (frame === null) return null;
      if (frame.kind !== "extension" || frame.type !== "E") {
        throw new Error(`a frame in clear on an encrypted link: ${JSON.stringify(frame)}`);
      }
      const opened = this.#opener!.push(frame.info);
      if (opened.kind === "error") throw new Error(opened.message);
      if (opened.kind === "more") continue;
      for (const result of opened.records) {
        if (!result.ok) throw new Error(result.message);
        this.#records.push(result.record);
      }
    }
    return this.#records.shift()!;
  }

  /** Read records until one of `kind` arrives (keep-alives and others skipped); `null` at the end. */
  async nextOf<K extends GroupRecord["kind"]>(
    kind: K,
    timeoutMs = 5_000,
  ): Promise<Extract<GroupRecord, { kind: K }> | null> {
    for (;;) {
      const record = await this.next(timeoutMs);
      if (record === null || record.kind === kind) {
        return record as Extract<GroupRecord, { kind: K }> | null;
      }
    }
  }

  async #handshake(): Promise<Uint8Array> {
    const joiner = new PieceJoiner(1024);
    for (;;) {
      const frame = await this.#frame();
      if (frame === null) throw new Error("closed in the handshake");
      if (frame.kind !== "extension" || frame.type !== HANDSHAKE_FRAME) {
        throw new Error(`not a handshake frame: ${JSON.stringify(frame)}`);
      }
      const step = joiner.push(frame.info);
      if (step.kind === "error") throw new Error(step.reason);
      if (step.kind === "message") return step.message;
    }
  }

  async #frame(timeoutMs = 5_000): Promise<PmiFrame | null> {
    while (this.#frames.length === 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`nothing within ${timeoutMs} ms`)), timeoutMs);
      });
      const n = await Promise.race([this.#conn.read(this.#buffer), late])
        .catch((error) => {
          if (error instanceof Deno.errors.ConnectionReset) return null;
          throw error;
        })
        .finally(() => clearTimeout(timer));
      if (n === null) return null;
      const pushed = this.#decoder.push(this.#buffer.subarray(0, n));
      this.#frames.push(...pushed.frames);
      if (pushed.error) throw pushed.error;
    }
    return this.#frames.shift()!;
  }

  /** Close the link (idempotent). */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
