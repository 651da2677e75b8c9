import { strictEqual } from "#assert";
import { statsTable, table } from "./ctl_format.ts";
import { parseRequest } from "./ctl.ts";

Deno.test("table aligns columns, numbers to the right", () => {
  strictEqual(
    table([["received", "12"], ["sent", "7"]], ["counter", "n"]),
    "counter    n\nreceived  12\nsent       7",
  );
});

Deno.test("statsTable shows totals, then each breakdown under its sum, largest first", () => {
  strictEqual(
    statsTable({
      received: 10,
      sendFailures: 0,
      dropped: { "rate-limited": 2, "move-pending": 5 },
    }),
    [
      "received        10",
      "send failures    0",
      "dropped          7",
      "  move-pending   5",
      "  rate-limited   2",
    ].join("\n"),
  );
});

Deno.test("a control request is one JSON object with a command and string arguments", () => {
  const encode = (text: string) => new TextEncoder().encode(text);
  strictEqual(
    JSON.stringify(parseRequest(encode('{"command":"add","args":["a b"]}'))),
    '{"command":"add","args":["a b"]}',
  );
  strictEqual(
    JSON.stringify(parseRequest(encode('{"command":"list"}'))),
    '{"command":"list","args":[]}',
  );
  strictEqual(parseRequest(encode("list")), "Bad request: not a line of JSON");
  strictEqual(parseRequest(encode("null")), 'Bad request: no "command"');
  strictEqual(parseRequest(new Uint8Array([0x22, 0xff, 0x22])), "Bad request: not a line of JSON");
  strictEqual(
    parseRequest(encode('{"command":"add","args":"x"}')),
    'Bad request: "args" must be a list of strings',
  );
});
