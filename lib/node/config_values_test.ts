import assert from "#assert";
import { parseYesNo, yesNoProblem } from "./config_values.ts";

Deno.test("yes/no settings: the eight words in any case, nothing else", () => {
  for (const yes of ["yes", "TRUE", "On", "1"]) assert.equal(parseYesNo(yes), true, yes);
  for (const no of ["no", "False", "OFF", "0"]) assert.equal(parseYesNo(no), false, no);
  for (const other of ["", "y", "2", "yes "]) assert.equal(parseYesNo(other), undefined, other);
  assert.equal(yesNoProblem("enabled", "maybe"), 'enabled must be yes or no, got "maybe"');
});
