import assert from "#assert";
import { FlagError, nearestFlag, parseFlags, versionLine } from "./flags.ts";

const FLAGS = {
  address: { type: "string" },
  "max-chats": { type: "string" },
  "no-log": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

Deno.test("flags are parsed by their long names; a switch takes no value", () => {
  assert.deepEqual(parseFlags(["--address", "a@b.c", "--no-log", "-h"], FLAGS), {
    address: "a@b.c",
    "no-log": true,
    help: true,
  });
});

Deno.test("flag errors name the flag and suggest the nearest known one", () => {
  const cases: Array<[string[], string]> = [
    [["--adress", "x"], "Unknown flag --adress (did you mean --address?)"],
    [["--max-chat", "3"], "Unknown flag --max-chat (did you mean --max-chats?)"],
    [["--nolog"], "Unknown flag --nolog (did you mean --no-log?)"],
    [["--zzzzzzzz"], "Unknown flag --zzzzzzzz"],
    [["-x"], "Unknown flag -x"],
    [["--address"], "--address needs a value"],
    [["--no-log=yes"], "--no-log takes no value"],
    [["adress"], 'Unexpected argument "adress": every option is a flag (did you mean --address?)'],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseFlags(args, FLAGS), (e: unknown) => {
      assert.equal((e as Error).message, message);
      return e instanceof FlagError;
    });
  }
});

Deno.test("the nearest flag is one within a third of its length, or a prefix", () => {
  assert.equal(nearestFlag("--lisen", ["listen", "log"]), "--listen");
  assert.equal(nearestFlag("--max", ["max-chats", "port"]), "--max-chats");
  assert.equal(nearestFlag("--verbose=1", ["verbose"]), "--verbose");
  assert.equal(nearestFlag("--xyz", ["listen", "log"]), undefined);
});

Deno.test("the version line names the program, its version and Deno's", () => {
  assert.match(versionLine("node"), /^lumi-node \d+\.\d+\.\d+ \(Deno \d+\.\d+\.\d+\)$/);
});
