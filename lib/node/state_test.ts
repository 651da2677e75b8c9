import { deepStrictEqual, strictEqual, throws } from "#assert";
import { restoreState, StateError } from "./state.ts";
import { MemoryDirectory } from "./memory_directory.ts";

/** Restore `text` as a state file into a directory of laura, joan and pe"re. */
function restore(text: string) {
  const directory = new MemoryDirectory(["laura", "joan", 'pe"re']);
  const restored = restoreState(text, directory);
  return { restored, online: [...directory.online()].map(([n, r]) => [n, r.endpoint, r.since]) };
}

const AT = { ip: "10.0.0.7", port: 4000 };

Deno.test("a state file as the node writes it is read entry by entry, escapes and all", () => {
  const text =
    `{"version":1,"online":[["laura","10.0.0.7:4000",1],["pe\\"re","10.0.0.7:4000",2]]}\n`;
  deepStrictEqual(restore(text), {
    restored: 2,
    online: [["laura", AT, 1], ['pe"re', AT, 2]],
  });
  deepStrictEqual(restore(`{"version":1,"online":[]}\n`), { restored: 0, online: [] });
});

Deno.test("any other JSON layout of a state file is read whole, as before", () => {
  const text = `{ "version": 1, "online": [ ["joan", "10.0.0.7:4000", 3] ] }`;
  deepStrictEqual(restore(text), { restored: 1, online: [["joan", AT, 3]] });
  const spaced =
    `{"version":1,"online":[["joan","10.0.0.7:4000",3], ["laura","10.0.0.7:4000",4]]}\n`;
  strictEqual((restore(spaced)).restored, 2);
});

Deno.test("a state file that is not JSON, not ours, or holds a bad entry is corrupt", () => {
  for (
    const text of [
      `{"version":1,"online":[["laura","10.0.0.7:4000",1],]}\n`,
      `{"version":1,"online":[["laura","10.0.0.7:4000",1]`,
      `{"version":1,"online":[["laura","10.0.0.7:4000",1]["joan","10.0.0.7:4000",1]]}\n`,
      `{"version":2,"online":[]}\n`,
      `{"version":1,"online":[["lau"ra","10.0.0.7:4000",1]]}\n`,
      `{"version":1,"online":[["laura","10.0.0.7:4000",0x10]]}\n`,
      `{"version":1,"online":[["laura","10.0.0.7:4000"]]}\n`,
      `{"version":1,"online":[["laura","10.0.0.7:99999",1]]}\n`,
    ]
  ) throws(() => restore(text), StateError, text);
});
