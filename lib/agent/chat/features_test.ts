import assert from "#assert";
import { formatPlumi } from "../../plumi/codec.ts";
import { availableReply, featureFields, parseFeatures } from "./features.ts";

Deno.test("features are read from the extra fields of RL0; anything else is ignored", () => {
  assert.deepEqual(parseFeatures(["v=2", "g=4001"]), { extended: true, groupPort: 4001 });
  assert.deepEqual(parseFeatures(["v=2"]), { extended: true });
  assert.deepEqual(parseFeatures(["g=4001"]), { extended: false });
  assert.deepEqual(parseFeatures([]), { extended: false });
  assert.deepEqual(parseFeatures(["v=2", "g=0", "x=1"]), { extended: true });
  assert.deepEqual(parseFeatures(["v=2", "g=65536"]), { extended: true });
  assert.deepEqual(parseFeatures(["v=2", "g=04001"]), { extended: true });
});

Deno.test("an extended RL0 carries the features after the port, unless it would exceed 100 bytes", () => {
  const at = { ip: "10.100.100.102", port: 43038 };
  assert.equal(
    formatPlumi(availableReply("u1@PC-c", "u2@PC-d", at, featureFields(43039))),
    "RL0u1@PC-c:u2@PC-d:10.100.100.102:43038:v=2:g=43039",
  );
  const long = `${"n".repeat(50)}@example.com`;
  const reply = formatPlumi(availableReply(long, "u2@PC-d", at, featureFields(43039)));
  assert.equal(reply, `RL0${long}:u2@PC-d:10.100.100.102:43038`);
  assert.ok(reply.length <= 100);
});

Deno.test("e=1 says the callee speaks the encrypted channel; it counts only with v=2", () => {
  assert.deepEqual(parseFeatures(["v=2", "g=4001", "e=1"]), {
    extended: true,
    groupPort: 4001,
    encrypted: true,
  });
  assert.deepEqual(parseFeatures(["e=1"]), { extended: false });
  assert.deepEqual(featureFields(43039, true), ["v=2", "g=43039", "e=1"]);
  assert.deepEqual(featureFields(undefined, true), ["v=2", "e=1"]);
});
