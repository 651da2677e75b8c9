import assert from "#assert";
import { parseCommand } from "../terminal/commands.ts";

Deno.test("/history takes an optional address and an optional number, in either order", () => {
  assert.deepEqual(parseCommand("/history", true), { kind: "history" });
  assert.deepEqual(parseCommand("/history joan@bb.com", false), {
    kind: "history",
    address: "joan@bb.com",
  });
  assert.deepEqual(parseCommand("/history 50 joan@bb.com", true), {
    kind: "history",
    address: "joan@bb.com",
    lines: 50,
  });
  assert.equal(parseCommand("/history joan", true).kind, "invalid");
  assert.equal(parseCommand("/history 1 2", true).kind, "invalid");
});

Deno.test("/search takes the rest of the line; without text it says how to use it", () => {
  assert.deepEqual(parseCommand("/search see you at 5", true), {
    kind: "search",
    text: "see you at 5",
  });
  assert.deepEqual(parseCommand("/search", true), {
    kind: "invalid",
    message: "Usage: /search <text>",
  });
});
