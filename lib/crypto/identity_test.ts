import { deepStrictEqual, notStrictEqual, ok, strictEqual } from "#assert";
import {
  decodeIdentityFile,
  encodeIdentityFile,
  fingerprint,
  keyFromText,
  keyToText,
  newIdentity,
  safetyNumber,
} from "./identity.ts";
import { KnownPeers } from "./known_peers.ts";

Deno.test("identity: the file gives back the same key pair", () => {
  const keys = newIdentity();
  const text = encodeIdentityFile("ana@aa.test", keys);
  deepStrictEqual(decodeIdentityFile(text), keys);
  ok(decodeIdentityFile("secret=abc\n") instanceof SyntaxError);
  ok(decodeIdentityFile("nothing\n") instanceof SyntaxError);
});

Deno.test("identity: key text is 43 characters and reads back", () => {
  const keys = newIdentity();
  strictEqual(keyToText(keys.publicKey).length, 43);
  deepStrictEqual(keyFromText(keyToText(keys.publicKey)), keys.publicKey);
  strictEqual(keyFromText("short"), undefined);
});

Deno.test("identity: the safety number is the same on both sides, and differs per pair", () => {
  const a = newIdentity().publicKey, b = newIdentity().publicKey, c = newIdentity().publicKey;
  strictEqual(safetyNumber(a, b), safetyNumber(b, a));
  notStrictEqual(safetyNumber(a, b), safetyNumber(a, c));
  ok(/^(\d{5} ){11}\d{5}$/.test(safetyNumber(a, b)));
  ok(/^([0-9a-f]{4} ){4}[0-9a-f]{4}$/.test(fingerprint(a)));
});

Deno.test("known peers: new, match, changed; trust and verify; the file round-trips", () => {
  const peers = new KnownPeers();
  const k1 = newIdentity().publicKey, k2 = newIdentity().publicKey;
  strictEqual(peers.check("bo@AA.test.", k1).kind, "new");
  peers.pin("bo@AA.test.", k1);
  deepStrictEqual(peers.check("bo@aa.test", k1), { kind: "match", trust: "seen" });
  deepStrictEqual(peers.check("bo@aa.test", k2), { kind: "changed", pinned: k1 });
  ok(peers.verify("bo@aa.test"));
  strictEqual(peers.verify("nobody@aa.test"), false);
  const { peers: again, skipped } = KnownPeers.parse(peers.serialize() + "garbage line\n");
  strictEqual(skipped, 1);
  deepStrictEqual(again.check("bo@aa.test", k1), { kind: "match", trust: "verified" });
  again.pin("bo@aa.test", k2);
  deepStrictEqual(again.check("bo@aa.test", k2), { kind: "match", trust: "seen" });
});
