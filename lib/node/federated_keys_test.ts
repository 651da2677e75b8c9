import assert from "#assert";
import { ManualClock } from "../clock.ts";
import type { NodeLocator } from "../locate.ts";
import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, encodePlumi, formatPlumi } from "../plumi/codec.ts";
import { MAX_EXTENDED_PACKET_BYTES, type PlumiMessage } from "../plumi/messages.ts";
import { VouchExt } from "../plumi/extensions/mod.ts";
import { FederatedKeys } from "./federated_keys.ts";
import { federatedClaim } from "./federation.ts";
import { answerVouchQuery } from "./identity_keys.ts";
import { AccountStore } from "./store.ts";

const CC: Endpoint = { ip: "198.51.100.3", port: 3344 };
const KEY = "K".repeat(43);
const wire = (text: string): PlumiMessage => {
  const decoded = decodePlumi(new TextEncoder().encode(text), {
    maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES,
  });
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.message;
};
const reply = (text: string) => wire(text) as Extract<PlumiMessage, { kind: "ext-reply" }>;

function setup(options: { extended?: boolean; perAsker?: number; maxPending?: number } = {}) {
  const clock = new ManualClock();
  const sent: string[] = [];
  const locator: NodeLocator = {
    locate: (domain) => Promise.resolve(domain === "cc.test" ? [CC] : []),
    reportDown: () => {},
  };
  let nonces = 0;
  const keys = new FederatedKeys({
    locator,
    send: (_to, message) => sent.push(formatPlumi(message)),
    isExtended: () => Promise.resolve(options.extended ?? true),
    clock,
    newNonce: () => `${++nonces}`.padStart(22, "n"),
    ...(options.perAsker !== undefined && { perAsker: options.perAsker }),
    ...(options.maxPending !== undefined && { maxPending: options.maxPending }),
  });
  return { clock, sent, keys };
}

/** Let the locator's and the probe's promises run. */
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("vouching across domains: one padded query for every asker, the answer with its nonce taken", async () => {
  const { sent, keys } = setup();
  const first = keys.ask("ana@aa.test", "joan@cc.test");
  const second = keys.ask("bo@aa.test", "joan@CC.test.");
  await turn();
  assert.equal(sent.length, 1, "the second asker waits for the same query");
  const query = sent[0]!;
  assert.match(query, /^PVjoan@cc\.test;w=ana@aa\.test;n=n{21}1;x=-+$/);
  const answer = `RV0;n=${"n".repeat(21)}1;b=joan@cc.test;ik=${KEY}`;
  assert.ok(query.length + 1 >= answer.length, "the answer is at most one byte longer");
  // Another nonce (a stranger who guessed the source): not taken.
  keys.onAnswer(reply(`RV0;n=${"x".repeat(22)};b=joan@cc.test;ik=${"S".repeat(43)}`));
  assert.equal(keys.stats.stray, 1);
  keys.onAnswer(reply(answer));
  assert.equal(await first, KEY);
  assert.equal(await second, KEY);
  // Cached: no second query.
  assert.equal(await keys.ask("cy@aa.test", "joan@cc.test"), KEY);
  assert.equal(sent.length, 1);
});

Deno.test("vouching across domains: silence, an original node, an unknown domain and the bounds give none", async () => {
  const { clock, sent, keys } = setup({ perAsker: 1, maxPending: 2 });
  const silent = keys.ask("ana@aa.test", "joan@cc.test");
  await turn();
  // ana already waits for one answer: her next question is answered none at once.
  assert.equal(await keys.ask("ana@aa.test", "pere@cc.test"), undefined);
  assert.equal(keys.stats.limited, 1);
  const other = keys.ask("bo@aa.test", "pere@cc.test");
  await turn();
  // Two pending: the node's bound.
  assert.equal(await keys.ask("cy@aa.test", "dee@cc.test"), undefined);
  assert.equal(keys.stats.limited, 2);
  clock.advance(1_500);
  assert.equal(await silent, undefined);
  assert.equal(await other, undefined);
  assert.equal(keys.stats.timeouts, 2);
  assert.equal(keys.pending, 0);
  assert.equal(clock.pending, 0, "no timer left");
  assert.equal(await keys.ask("ana@aa.test", "zed@nowhere.test"), undefined);
  assert.equal(sent.length, 2);
  const original = setup({ extended: false });
  assert.equal(await original.keys.ask("ana@aa.test", "joan@cc.test"), undefined);
  assert.deepEqual(original.sent, []);
});

Deno.test("vouching across domains: the asked node answers with its bound keys only, from the asker's node only", () => {
  const store = AccountStore.open(":memory:");
  store.setIdentityKey("joan", KEY);
  const options = {
    store,
    isProtected: (name: string) => name === "joan",
    isLocal: (domain: string) => domain === "cc.test",
  };
  const query = (who: string) =>
    answerVouchQuery(
      options,
      VouchExt.encodeRequest({ who, asker: "ana@aa.test", nonce: "q".repeat(22) }) as Extract<
        PlumiMessage,
        { kind: "ext-request" }
      >,
    );
  const vouched = query("joan@cc.test")!;
  assert.equal(
    new TextDecoder().decode(encodePlumi(vouched)),
    `RV0;n=${"q".repeat(22)};b=joan@cc.test;ik=${KEY}`,
  );
  assert.equal(formatPlumi(query("pere@cc.test")!), `RV2;n=${"q".repeat(22)};b=pere@cc.test`);
  assert.equal(formatPlumi(query("joan@dd.test")!), `RV2;n=${"q".repeat(22)};b=joan@dd.test`);
  // Only the asker's domain's node may ask; only the vouched address's node may answer.
  assert.equal(
    federatedClaim(wire(formatPlumi(VouchExt.encodeRequest({
      who: "joan@cc.test",
      asker: "ana@aa.test",
      nonce: "q".repeat(22),
    })))),
    "aa.test",
  );
  assert.equal(federatedClaim(vouched), "cc.test");
  assert.equal(federatedClaim(wire("RV0;b=joan@cc.test")), "");
  store.close();
});
