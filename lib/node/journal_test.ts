import { deepStrictEqual, strictEqual, throws } from "#assert";
import { MemoryDirectory } from "./memory_directory.ts";
import { applyRecords, JournalError, parseRecord, parseSegment, recordLine } from "./journal.ts";

const AT = { ip: "10.0.0.7", port: 4000 };

Deno.test("a record says a user's registration as it is now: where and since when, or none", () => {
  const directory = new MemoryDirectory(["laura", "joan", "pere"]);
  directory.register("laura", AT, 1_700_000_000_000);
  directory.register("pere", AT, 5, { token: "secret", heartbeatMs: 30_000, busy: false });
  strictEqual(recordLine(directory, "laura"), '["r","laura","10.0.0.7:4000",1700000000000]\n');
  strictEqual(recordLine(directory, "joan"), '["d","joan"]\n');
  // An extended session does not survive a restart (its agent registers again): never journaled.
  strictEqual(recordLine(directory, "pere"), '["d","pere"]\n');
  strictEqual(recordLine(directory, "nobody"), '["d","nobody"]\n');
  deepStrictEqual(parseRecord(recordLine(directory, "laura").trimEnd()), {
    op: "r",
    name: "laura",
    endpoint: "10.0.0.7:4000",
    since: 1_700_000_000_000,
  });
  for (
    const bad of ['["r","laura","10.0.0.7:99999",1]', '["x","laura"]', '["d","a b"]', "{}", ""]
  ) {
    strictEqual(parseRecord(bad), undefined, bad);
  }
});

Deno.test("a segment's torn tail is ignored; a bad record followed by good ones is damage", () => {
  const good = '["r","laura","10.0.0.7:4000",1]\n["d","laura"]\n';
  deepStrictEqual(parseSegment(good).records.length, 2);
  for (
    const tail of ['["r","joan","10.0.0.7:40', '["r","joan"\n\u0000\u0000', "\u0000".repeat(100)]
  ) {
    const parsed = parseSegment(good + tail);
    strictEqual(parsed.records.length, 2, JSON.stringify(tail));
    strictEqual(parsed.tornChars, tail.length);
  }
  throws(() => parseSegment(`${good}garbage\n["d","joan"]\n`, "j.1"), JournalError);
});

Deno.test("replayed records set or clear each user in order; users that are gone are skipped", () => {
  const directory = new MemoryDirectory(["laura", "joan"]);
  const records = parseSegment(
    [
      '["r","laura","10.0.0.7:4000",1]',
      '["r","joan","10.0.0.8:4000",2]',
      '["r","gone","10.0.0.9:4000",3]',
      '["d","laura"]',
      '["r","laura","10.0.0.7:4001",4]',
      '["d","joan"]',
      "",
    ].join("\n"),
  ).records;
  applyRecords(directory, records);
  deepStrictEqual(directory.get("laura")?.endpoint, { ip: "10.0.0.7", port: 4001 });
  strictEqual(directory.get("laura")?.since, 4);
  strictEqual(directory.get("joan"), null);
  strictEqual(directory.has("gone"), false);
});

Deno.test("the directory tells its observer of every registration made, moved or ended", () => {
  const directory = new MemoryDirectory(["laura", "joan"]);
  const told: string[] = [];
  directory.observe((name) => told.push(name));
  directory.register("laura", AT, 1);
  directory.heartbeat("laura", { ip: "10.0.0.7", port: 4001 }, 2, false);
  directory.deregister("laura");
  directory.deregister("joan"); // already offline: no change
  directory.register("joan", AT, 2);
  directory.remove("joan");
  directory.add("pere");
  deepStrictEqual(told, ["laura", "laura", "laura", "joan", "joan"]);
});
