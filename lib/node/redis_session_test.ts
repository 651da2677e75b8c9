import { deepStrictEqual as assertEquals } from "#assert";
import { jsonSessionCodec } from "./redis_session.ts";

Deno.test("a session travels whole, byte arrays and unknown fields included", () => {
  const session = {
    token: "t",
    heartbeatMs: 30_000,
    busy: true,
    key: new Uint8Array([0, 1, 254, 255]),
    counter: 7,
  };
  assertEquals(jsonSessionCodec.decode(jsonSessionCodec.encode(session)), session);
});

Deno.test("text that is not a session decodes to undefined", () => {
  for (const text of ["", "{", "null", "3", '{"token":"t"}']) {
    assertEquals(jsonSessionCodec.decode(text), undefined);
  }
});
