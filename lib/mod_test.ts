import assert from "#assert";
import * as lumi from "./mod.ts";

Deno.test("the package's entry point exports runNode, runAgent and both codecs", () => {
  assert.equal(typeof lumi.runNode, "function");
  assert.equal(typeof lumi.runAgent, "function");
  const decoded = lumi.decodePlumi(new TextEncoder().encode("PLlaura@bb.com:joan@bb.com"));
  assert.ok(decoded.ok && lumi.formatPlumi(decoded.message) === "PLlaura@bb.com:joan@bb.com");
  assert.equal(typeof lumi.PmiDecoder, "function");
});
