/**
 * The Noise handshake (`lib/crypto/noise.ts`) against the published
 * cacophony test vectors kept in tests/vectors/ (their source is in the file).
 *
 * @module
 */

import { deepStrictEqual as assertEquals } from "#assert";
import vectors from "./vectors/noise_xx.json" with { type: "json" };
import {
  type CipherState,
  HandshakeState,
  keyPairFromSecret,
  type PatternName,
} from "../lib/crypto/noise.ts";

const hex = (text: string): Uint8Array =>
  Uint8Array.from(text.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

interface Vector {
  readonly protocol_name: string;
  readonly init_prologue: string;
  readonly init_static?: string;
  readonly init_ephemeral: string;
  readonly resp_prologue: string;
  readonly resp_static?: string;
  readonly resp_ephemeral: string;
  readonly handshake_hash: string;
  readonly messages: readonly { readonly payload: string; readonly ciphertext: string }[];
}

for (const vector of vectors.vectors as readonly Vector[]) {
  Deno.test(`noise: ${vector.protocol_name} matches the published cacophony vector`, async () => {
    const pattern = vector.protocol_name.split("_")[1] as PatternName;
    const side = (prologue: string, s: string | undefined, e: string, initiator: boolean) =>
      new HandshakeState({
        pattern,
        initiator,
        prologue: hex(prologue),
        staticKeys: s === undefined ? undefined : keyPairFromSecret(hex(s)),
        ephemeralKeys: keyPairFromSecret(hex(e)),
      });
    const init = side(vector.init_prologue, vector.init_static, vector.init_ephemeral, true);
    const resp = side(vector.resp_prologue, vector.resp_static, vector.resp_ephemeral, false);
    let i = 0;
    for (; init.result === undefined; i++) {
      const message = vector.messages[i]!;
      const [writer, reader] = i % 2 === 0 ? [init, resp] : [resp, init];
      const wire = await writer.writeMessage(hex(message.payload));
      assertEquals(toHex(wire), message.ciphertext, `handshake message ${i}`);
      assertEquals(toHex(await reader.readMessage(wire)), message.payload);
    }
    const a = init.result!, b = resp.result!;
    // handshake_hash is not compared: see the note in the vectors file.
    assertEquals(a.handshakeHash, b.handshakeHash);
    for (; i < vector.messages.length; i++) {
      const message = vector.messages[i]!;
      const [send, receive]: [CipherState, CipherState] = i % 2 === 0
        ? [a.send, b.receive]
        : [b.send, a.receive];
      const wire = send.encryptWithAd(new Uint8Array(0), hex(message.payload));
      assertEquals(toHex(wire), message.ciphertext, `transport message ${i}`);
      assertEquals(toHex(receive.decryptWithAd(new Uint8Array(0), wire)), message.payload);
    }
  });
}
