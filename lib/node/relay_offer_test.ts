import assert from "#assert";
import { ManualClock } from "../clock.ts";
import { encodePlumi } from "../plumi/codec.ts";
import type { Endpoint } from "../plumi/address.ts";
import type { PlumiMessage } from "../plumi/messages.ts";
import { encodeRelayRequest } from "../plumi/extensions/mod.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import { type RelayContext, type RelayOffers, relayRequest } from "./relay_offer.ts";
import { RelaySessions } from "./relay_sessions.ts";

const ANA: Endpoint = { ip: "203.0.113.5", port: 4000 };
const BO: Endpoint = { ip: "198.51.100.7", port: 5000 };
const RELAY: Endpoint = { ip: "203.0.113.1", port: 3345 };
const text = (m: PlumiMessage) => new TextDecoder().decode(encodePlumi(m));

function setup(withRelay = true) {
  const directory = new MemoryDirectory(["ana", "bo", "pere"]);
  directory.register("ana", ANA, 0, { token: "ta", heartbeatMs: 30_000, busy: false });
  directory.register("bo", BO, 0, { token: "tb", heartbeatMs: 30_000, busy: false });
  directory.register("pere", { ip: "198.51.100.8", port: 6000 }, 0); // an original agent
  const sessions = new RelaySessions(new ManualClock(), { perUser: 1 });
  const sent: string[] = [];
  const relay: RelayOffers = {
    endpoint: RELAY,
    request: (caller, callee) => sessions.offer(caller, callee),
    notify: (to, message) => sent.push(`${to.ip}:${to.port} ${text(message)}`),
  };
  const context: RelayContext = {
    relay: withRelay ? relay : undefined,
    directory,
    isLocal: (d) => d === "aa.test",
    // The node's check of the request's seal (lib/node/extended.ts), here its outcome.
    caller: (address) => address === "ana@aa.test" && sealed ? "ana" : undefined,
  };
  let sealed = true;
  const ask = (to: string, seal = true) => {
    sealed = seal;
    const action = relayRequest(
      encodeRelayRequest({ kind: "relay-request", caller: "ana@aa.test", callee: to }),
      ANA,
      context,
    );
    if (action instanceof Promise) throw new Error("a local request is answered at once");
    return text(action.message);
  };
  return { ask, sent };
}

Deno.test("a granted relay: the offer goes to the callee's agent, the caller's key back to the caller", () => {
  const { ask, sent } = setup();
  const answer = ask("bo@aa.test");
  const key = answer.match(/^RY0;r=203\.0\.113\.1:3345;k=([A-Za-z0-9_-]{22})$/)?.[1];
  assert.ok(key, answer);
  assert.equal(sent.length, 1);
  const offer = sent[0]!.match(
    /^198\.51\.100\.7:5000 PYbo@aa\.test;f=ana@aa\.test;r=203\.0\.113\.1:3345;k=([A-Za-z0-9_-]{22})$/,
  );
  assert.ok(offer, sent[0]);
  assert.notEqual(offer?.[1], key, "each party has its own key");
  // Asked again (a lost answer): the same keys, the offer again.
  assert.equal(ask("bo@aa.test"), answer);
  assert.equal(sent.length, 2);
});

Deno.test("refusals: no session, no relay, another domain, an original or offline callee, bounds", () => {
  const { ask, sent } = setup();
  assert.equal(ask("bo@aa.test", false), "RY1;e=auth");
  assert.equal(ask("pere@aa.test"), "RY1;e=offline");
  assert.equal(ask("nobody@aa.test"), "RY1;e=offline");
  assert.equal(ask("joan@cc.test"), "RY1;e=domain");
  assert.equal(ask("ana@aa.test"), "RY1;e=invalid");
  assert.match(ask("bo@aa.test"), /^RY0;/);
  assert.equal(sent.length, 1, "only the granted one was offered");
  assert.equal(setup(false).ask("bo@aa.test"), "RY1;e=off");
});
