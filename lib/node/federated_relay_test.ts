import assert from "#assert";
import { ManualClock } from "../clock.ts";
import type { NodeLocator } from "../locate.ts";
import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, formatPlumi } from "../plumi/codec.ts";
import { MAX_EXTENDED_PACKET_BYTES, type PlumiMessage } from "../plumi/messages.ts";
import { CrossRelayExt } from "../plumi/extensions/mod.ts";
import { FederatedRelay } from "./federated_relay.ts";
import { federatedClaim } from "./federation.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import { RelaySessions } from "./relay_sessions.ts";
import type { RelayOffers } from "./relay_offer.ts";

const BB: Endpoint = { ip: "198.51.100.2", port: 3344 };
const RELAY: Endpoint = { ip: "198.51.100.2", port: 3345 };
const wire = (text: string): PlumiMessage => {
  const decoded = decodePlumi(new TextEncoder().encode(text), {
    maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES,
  });
  if (!decoded.ok) throw new Error(decoded.error.message);
  return decoded.message;
};
type Req = Extract<PlumiMessage, { kind: "ext-request" }>;
type Rep = Extract<PlumiMessage, { kind: "ext-reply" }>;
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The caller's node (aa.test) and the callee's node (bb.test), joined by hand. */
function setup(perCallingDomain = 16) {
  const clock = new ManualClock();
  const toBb: string[] = [];
  const offers: string[] = [];
  const locator: NodeLocator = {
    locate: (domain) => Promise.resolve(domain === "bb.test" ? [BB] : []),
    reportDown: () => {},
  };
  let nonces = 0;
  const caller = new FederatedRelay({
    locator,
    send: (_to, message) => toBb.push(formatPlumi(message)),
    isExtended: () => Promise.resolve(true),
    clock,
    directory: new MemoryDirectory(["ana"]),
    isLocal: (d) => d === "aa.test",
    newNonce: () => `${++nonces}`.padStart(22, "n"),
    maxPending: 2,
  });
  const directory = new MemoryDirectory(["bo", "bea", "pere"]);
  directory.register("bo", { ip: "192.0.2.2", port: 5000 }, 0, {
    token: "tb",
    heartbeatMs: 30_000,
    busy: false,
  });
  directory.register("bea", { ip: "192.0.2.3", port: 5000 }, 0, {
    token: "tc",
    heartbeatMs: 30_000,
    busy: false,
  });
  directory.register("pere", { ip: "192.0.2.4", port: 5000 }, 0);
  const sessions = new RelaySessions(clock, { perUser: 4 });
  const relay: RelayOffers = {
    endpoint: RELAY,
    request: (from, to) => sessions.offer(from, to),
    notify: (_to, message) => offers.push(formatPlumi(message)),
    sessionsFrom: (domain) => sessions.countFrom(domain),
  };
  const callee = new FederatedRelay({
    locator,
    send: () => {},
    isExtended: () => Promise.resolve(true),
    clock,
    directory,
    isLocal: (d) => d === "bb.test",
    relay,
    perCallingDomain,
  });
  /** bb.test answers the last request aa.test sent; aa.test takes the answer. */
  const pass = () => {
    const answer = callee.answer(wire(toBb.at(-1)!) as Req);
    if (answer) caller.onAnswer(wire(formatPlumi(answer)) as Rep);
    return answer && formatPlumi(answer);
  };
  return { clock, toBb, offers, caller, callee, pass };
}

Deno.test("relay across domains: forwarded, offered by the callee's node, the caller's key back", async () => {
  const { toBb, offers, caller, pass } = setup();
  const asked = caller.forward("ana@aa.test", "bo@bb.test");
  const again = caller.forward("ana@aa.test", "bo@bb.test"); // a retransmission
  await turn();
  assert.equal(toBb.length, 1);
  const request = toBb[0]!;
  assert.match(request, /^PJana@aa\.test;to=bo@bb\.test;n=n{21}1;x=-+$/);
  assert.equal(federatedClaim(wire(request)), "aa.test");
  const answer = pass()!;
  assert.match(answer, /^RJ0;to=bo@bb\.test;n=n{21}1;r=198\.51\.100\.2:3345;k=/);
  assert.ok(request.length + 1 >= answer.length, "the answer is at most one byte longer");
  assert.equal(federatedClaim(wire(answer)), "bb.test");
  const granted = await asked;
  assert.equal(granted.kind, "relay-granted");
  assert.deepEqual(await again, granted);
  assert.equal(offers.length, 1);
  assert.match(offers[0]!, /^PYbo@bb\.test;f=ana@aa\.test;r=198\.51\.100\.2:3345;k=/);
  assert.ok(
    granted.kind === "relay-granted" && !offers[0]!.endsWith(granted.key),
    "each party its own key",
  );
});

Deno.test("relay across domains: refusals passed on, a stray answer dropped, silence and bounds refused", async () => {
  const { clock, toBb, caller, pass } = setup(1);
  const offline = caller.forward("ana@aa.test", "pere@bb.test");
  await turn();
  assert.match(pass()!, /^RJ1;to=pere@bb\.test;n=.*;e=offline$/);
  assert.deepEqual(await offline, { kind: "relay-refused", reason: "offline" });
  // One session for callers of aa.test at bb.test: the next is refused "full".
  const first = caller.forward("ana@aa.test", "bo@bb.test");
  await turn();
  pass();
  assert.equal((await first).kind, "relay-granted");
  const second = caller.forward("al@aa.test", "bea@bb.test");
  await turn();
  assert.match(pass()!, /e=full$/);
  assert.deepEqual(await second, { kind: "relay-refused", reason: "full" });
  // An answer with another nonce is not taken; the request is refused at its deadline.
  const silent = caller.forward("ana@aa.test", "bea@bb.test");
  await turn();
  caller.onAnswer(
    wire(formatPlumi(CrossRelayExt.encodeReply({
      kind: "granted",
      callee: "bea@bb.test",
      nonce: "x".repeat(22),
      relay: { ip: "203.0.113.66", port: 1 },
      key: "A".repeat(22),
    }))) as Rep,
  );
  assert.equal(caller.stats.stray, 1);
  // Two pending at most (the bound of this setup): a third is refused at once.
  const other = caller.forward("al@aa.test", "bo@bb.test");
  assert.deepEqual(await caller.forward("cy@aa.test", "bo@bb.test"), {
    kind: "relay-refused",
    reason: "domain",
  });
  assert.equal(caller.stats.limited, 1);
  await turn();
  clock.advance(1_500);
  assert.deepEqual(await silent, { kind: "relay-refused", reason: "domain" });
  assert.deepEqual(await other, { kind: "relay-refused", reason: "domain" });
  assert.equal(caller.stats.timeouts, 2);
  assert.equal(caller.pending, 0);
  // A domain whose node is not found.
  assert.deepEqual(await caller.forward("ana@aa.test", "zed@nowhere.test"), {
    kind: "relay-refused",
    reason: "domain",
  });
  assert.ok(toBb.length >= 4);
});
