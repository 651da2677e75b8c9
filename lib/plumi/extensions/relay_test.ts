import assert from "#assert";
import { decodePlumi, encodePlumi } from "../codec.ts";
import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import {
  decodeRelayAnswer,
  decodeRelayPacket,
  encodeRelayAnswer,
  encodeRelayOffer,
  encodeRelayRequest,
} from "./relay.ts";

const KEY = "q1w2e3r4t5y6u7i8o9p0aZ";
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function decoded(packet: string) {
  const result = decodePlumi(new TextEncoder().encode(packet));
  if (!result.ok) throw new Error(result.error.message);
  return result.message;
}

function request(packet: string): ExtensionRequest {
  const message = decoded(packet);
  if (message.kind !== "ext-request") throw new Error(`${packet} is a ${message.kind}`);
  return message;
}

function reply(packet: string): ExtensionReply {
  const message = decoded(packet);
  if (message.kind !== "ext-reply") throw new Error(`${packet} is a ${message.kind}`);
  return message;
}

Deno.test("the relay request, offer and answers encode to the documented bytes and back", () => {
  const asked = encodeRelayRequest({
    kind: "relay-request",
    caller: "ana@aa.test",
    callee: "bo@aa.test",
  });
  assert.equal(text(encodePlumi(asked)), "PYana@aa.test;to=bo@aa.test");
  const offer = encodeRelayOffer({
    kind: "relay-offer",
    callee: "bo@aa.test",
    caller: "ana@aa.test",
    relay: { ip: "203.0.113.1", port: 3345 },
    key: KEY,
  });
  const offerText = `PYbo@aa.test;f=ana@aa.test;r=203.0.113.1:3345;k=${KEY}`;
  assert.equal(text(encodePlumi(offer)), offerText);
  const granted = encodeRelayAnswer({
    kind: "relay-granted",
    relay: { ip: "203.0.113.1", port: 3345 },
    key: KEY,
  });
  assert.equal(text(encodePlumi(granted)), `RY0;r=203.0.113.1:3345;k=${KEY}`);
  assert.equal(
    text(encodePlumi(encodeRelayAnswer({ kind: "relay-refused", reason: "offline" }))),
    "RY1;e=offline",
  );

  assert.deepEqual(decodeRelayPacket(request("PYana@aa.test;to=bo@aa.test")), {
    kind: "relay-request",
    caller: "ana@aa.test",
    callee: "bo@aa.test",
  });
  assert.equal(decodeRelayPacket(request(offerText))?.kind, "relay-offer");
  assert.deepEqual(decodeRelayAnswer(reply(`RY0;r=203.0.113.1:3345;k=${KEY}`)), {
    kind: "relay-granted",
    relay: { ip: "203.0.113.1", port: 3345 },
    key: KEY,
  });
});

Deno.test("malformed relay packets decode to nothing; unknown refusals are 'unknown'", () => {
  for (
    const packet of [
      "PYana@aa.test;t=tok",
      "PYana@aa.test;t=tok;to=nobody",
      `PYbo@aa.test;f=ana@aa.test;r=203.0.113.1;k=${KEY}`,
      "PYbo@aa.test;f=ana@aa.test;r=203.0.113.1:3345;k=short",
      "PYbo@aa.test",
    ]
  ) {
    assert.equal(decodeRelayPacket(request(packet)), undefined, packet);
  }
  assert.equal(decodeRelayAnswer(reply("RY0;r=1.2.3.4:5")), undefined);
  assert.deepEqual(decodeRelayAnswer(reply("RY1;e=weather")), {
    kind: "relay-refused",
    reason: "unknown",
  });
});
