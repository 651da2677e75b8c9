import { deepStrictEqual as assertEquals } from "#assert";
import { decodePlumi, encodePlumi, isExtended } from "./codec.ts";
import { MAX_EXTENDED_PACKET_BYTES } from "./messages.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("extension requests and replies decode and re-encode byte for byte", () => {
  const cases: Array<[string, unknown]> = [
    ["PKlaura@bb.com;t=abc", {
      kind: "ext-request",
      type: "K",
      address: "laura@bb.com",
      params: ["t=abc"],
    }],
    ["RK0", { kind: "ext-reply", type: "K", code: 0, params: [] }],
    ["RU3;e=closed", { kind: "ext-reply", type: "U", code: 3, params: ["e=closed"] }],
    ["PBlaura@bb.com;t=x;op=add;b=joan@cc.com", {
      kind: "ext-request",
      type: "B",
      address: "laura@bb.com",
      params: ["t=x", "op=add", "b=joan@cc.com"],
    }],
    ["RS0;p=1/1;b=on,127.0.0.1,4000,joan@cc.com", {
      kind: "ext-reply",
      type: "S",
      code: 0,
      params: ["p=1/1", "b=on,127.0.0.1,4000,joan@cc.com"],
    }],
  ];
  for (const [wire, message] of cases) {
    const decoded = decodePlumi(bytes(wire));
    assertEquals(decoded, { ok: true, message }, wire);
    if (decoded.ok) assertEquals(text(encodePlumi(decoded.message)), wire);
  }
});

Deno.test("extension packets reject bad codes, bad addresses and unknown letters", () => {
  const kinds = ["RKx", "RK", "PKlaura", "PXlaura@bb.com", "RK0x"].map((w) => {
    const r = decodePlumi(bytes(w));
    return r.ok ? "ok" : r.error.kind;
  });
  assertEquals(kinds, ["bad-code", "bad-code", "missing-at", "unknown-type", "trailing-data"]);
});

Deno.test("only extended messages may pass the original 100-byte limit, up to the extended one", () => {
  const options = { maxBytes: 100, maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES };
  const pad = (prefix: string, length: number) => prefix + "x".repeat(length - prefix.length);
  const extended = decodePlumi(bytes(pad("PRlaura@bb.com;v=2;x=", 300)), options);
  assertEquals(extended.ok && isExtended(extended.message), true);
  const original = decodePlumi(bytes(pad("PRlaura@bb.com;x=", 101)), options);
  assertEquals(original.ok ? "ok" : original.error.kind, "too-long");
  const lookup = decodePlumi(bytes(`PL${"a".repeat(50)}@b.com:${"y".repeat(50)}@c.com`), options);
  assertEquals(lookup.ok ? "ok" : lookup.error.kind, "too-long");
  const huge = decodePlumi(bytes(pad("PKlaura@bb.com;t=", 513)), options);
  assertEquals(huge.ok ? "ok" : huge.error.kind, "too-long");
  // Without maxExtendedBytes nothing changes: 100 bytes for every message.
  const plain = decodePlumi(bytes(pad("PKlaura@bb.com;t=", 101)));
  assertEquals(plain.ok ? "ok" : plain.error.kind, "too-long");
});
