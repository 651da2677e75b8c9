/**
 * Every text the agent shows is in `lib/agent/terminal/texts.ts`: no other
 * file of `lib/agent` hands a sentence of its own to the terminal, or to an
 * error whose message the user reads (the group records' codec aside).
 *
 * @module
 */

import assert from "#assert";

const ROOT = new URL("../lib/agent/", import.meta.url);
const TEXTS = "terminal/texts.ts";
/** The group records' codec: pure, its error details are its own (as `lib/plumi/`'s and `lib/pmi/`'s). */
const CODECS = new Set(["group/wire.ts"]);

/** A literal string (or template) handed straight to the terminal. */
const TO_UI = /\.(warn|info|ask|askSecret)\(\s*["'`]/;
/** A literal message of an error the user is shown (`describeError`, `main_agent.ts`). */
const TO_ERROR =
  /new (Usage|Registration|NodeNotFound|NodeSilent|Listen|Handshake|PeerTimeout|Overload|GroupProtocol|SignedInElsewhere|WrongPassword)Error\(\s*(\w+,\s*)?["'`]/;
/** A literal reason of a command typed wrong. */
const TO_COMMAND = /message:\s*["'`]/;

async function* sources(dir: URL, prefix = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${prefix}${entry.name}`;
    if (entry.isDirectory) yield* sources(new URL(`${entry.name}/`, dir), `${path}/`);
    else if (path.endsWith(".ts") && !path.endsWith("_test.ts") && path !== "_testing.ts") {
      yield path;
    }
  }
}

Deno.test("the agent's texts are all in terminal/texts.ts", async () => {
  const found: string[] = [];
  let files = 0;
  for await (const path of sources(ROOT)) {
    if (path === TEXTS || CODECS.has(path)) continue;
    files++;
    const lines = (await Deno.readTextFile(new URL(path, ROOT))).split("\n");
    lines.forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return; // comments and JSDoc examples
      if (TO_UI.test(line) || TO_ERROR.test(line) || TO_COMMAND.test(line)) {
        found.push(`lib/agent/${path}:${i + 1}: ${line.trim()}`);
      }
    });
  }
  assert.ok(files > 20, `only ${files} files read under lib/agent`);
  assert.deepEqual(found, [], `texts outside ${TEXTS}:\n${found.join("\n")}`);
});
