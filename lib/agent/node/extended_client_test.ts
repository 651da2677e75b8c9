/**
 * Unit tests of the agent's side of the extensions against a scripted node:
 * what it sends is written, and what it receives is read, by the
 * definitions of `lib/plumi/extensions/`. No permissions needed.
 */

import { deepStrictEqual as assertEquals, ok as assert, rejects } from "#assert";
import { ManualClock } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import { decodePlumi, formatPlumi } from "../../plumi/codec.ts";
import { MAX_EXTENDED_PACKET_BYTES, type PlumiMessage } from "../../plumi/messages.ts";
import {
  deriveSessionKey,
  newSessionKeyPair,
  RequestSealer,
  sealGrant,
} from "../../plumi/extensions/mod.ts";
import { RegistrationError } from "../errors.ts";
import type { PlumiClient } from "./client.ts";
import { ExtendedSession } from "./extended_client.ts";
import { registerWith, SignedInElsewhereError, signUp } from "./registration.ts";

/** A node that answers each request with `answer(text)` (the request's wire text). */
function scripted(answer: (text: string) => string) {
  const sent: string[] = [];
  const client = {
    node: { ip: "10.0.0.100", port: 3344 },
    request: (message: PlumiMessage): Promise<PlumiMessage> => {
      const text = formatPlumi(message);
      sent.push(text);
      const reply = decodePlumi(new TextEncoder().encode(answer(text)), {
        maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES,
      });
      if (!reply.ok) throw new Error(`bad scripted answer: ${reply.error.message}`);
      return Promise.resolve(reply.message);
    },
    useSession: () => {},
  } as unknown as PlumiClient;
  return { client, sent };
}

const SESSION = {
  sealer: new RequestSealer(new Uint8Array(32)),
  heartbeatMs: 30_000,
  signupOpen: false,
  onlineList: true,
};

/** A node's `RR0` to the first PR `text` (no password): its key, and `m=` under the session key. */
function grant(text: string, tamper = (reply: string) => reply): string {
  const agentKey = text.match(/;k=([\w-]{43})/)![1]!;
  const pair = newSessionKeyPair();
  const key = deriveSessionKey({
    secretKey: pair.secretKey,
    peerKey: agentKey,
    address: "laura@bb.com",
    agentKey,
    nodeKey: pair.publicKey,
  })!;
  return tamper(formatPlumi(sealGrant({
    kind: "granted",
    nodeKey: pair.publicKey,
    mac: "",
    heartbeatSeconds: 0,
    signupOpen: true,
    onlineList: false,
  }, key)));
}

Deno.test("registration sends its key in the padded first PR and checks the node's proof of the session key", async () => {
  const { client, sent } = scripted((text) => grant(text));
  const registration = await registerWith(client, "laura@bb.com", () => Promise.resolve(""));
  if (registration.kind !== "extended") throw new Error(`not extended: ${registration.kind}`);
  const { sealer, ...rest } = registration.session;
  // hb=0 is no interval: the agent's default of 30 s.
  assertEquals(rest, { heartbeatMs: 30_000, signupOpen: true, onlineList: false });
  assertEquals(sealer.counter, 0);
  assert(/^PRlaura@bb\.com;v=2;k=[\w-]{43};x=-{33}$/.test(sent[0]!), sent[0]);
  assertEquals(sent.length, 1);
});

Deno.test("an RR0 whose key or MAC was changed on the way is refused", async () => {
  const otherKey = newSessionKeyPair().publicKey;
  for (
    const tamper of [
      (r: string) => r.replace(/;k=[\w-]{43}/, `;k=${otherKey}`),
      (r: string) => r.replace(/;m=[\w-]{16}$/, ";m=AAAAAAAAAAAAAAAA"),
      (r: string) => r.replace(";su=1", ";su=0"),
    ]
  ) {
    const { client } = scripted((text) => grant(text, tamper));
    await rejects(
      registerWith(client, "laura@bb.com", () => Promise.resolve("")),
      (e: Error) => e instanceof RegistrationError && /does not prove/.test(e.message),
    );
  }
});

Deno.test("an extended answer the agent cannot read is a refusal that says why", async () => {
  // Without a key there is no session.
  const noKey = scripted(() => "RR0;v=2;hb=30;m=AAAAAAAAAAAAAAAA");
  await rejects(
    registerWith(noKey.client, "laura@bb.com", () => Promise.resolve("pw")),
    (e: Error) => e instanceof RegistrationError && /k= is missing/.test(e.message),
  );
  const noChallenge = scripted(() => "RR1;v=2;e=auth");
  await rejects(
    registerWith(noChallenge.client, "laura@bb.com", () => Promise.resolve("pw")),
    (e: Error) => e instanceof RegistrationError && /n= is missing/.test(e.message),
  );
  const noReason = scripted(() => "RR1;v=2");
  await rejects(
    registerWith(noReason.client, "laura@bb.com", () => Promise.resolve("pw")),
    (e: Error) => e instanceof RegistrationError && /no reason given/.test(e.message),
  );
});

Deno.test("signed in elsewhere says where, as the node said", async () => {
  const { client } = scripted(() => "RR1;v=2;e=signed-in;at=10.0.0.7:4000");
  await rejects(
    registerWith(client, "laura@bb.com", () => Promise.resolve("")),
    (e: Error) =>
      e instanceof SignedInElsewhereError && e.at?.ip === "10.0.0.7" && e.at.port === 4000,
  );
});

Deno.test("sign-up answers map to what the agent tells the user", async () => {
  const result = (answer: string) =>
    signUp(scripted(() => answer).client, "nuria@bb.com", "pw", 1_000);
  assertEquals(await result("RU0"), "created");
  assertEquals(await result("RU1;e=taken"), "taken");
  assertEquals(await result("RU3;e=rate"), "closed");
  assertEquals(await result("RU3"), "closed");
  assertEquals(await result("RU4;e=store"), "invalid");
  assertEquals(await result("RU1;e=rate"), "invalid", "a code and a reason that disagree");
  const { client, sent } = scripted(() => "RU0");
  await signUp(client, "nuria@bb.com", "pw", 1_000);
  assert(/^PUnuria@bb\.com;s=[\w-]{22};i=1000;k=[\w-]{43}$/.test(sent[0]!), sent[0]);
});

Deno.test("the buddy status is read page by page, with the changes when the node keeps them", async () => {
  const { client, sent } = scripted((text) =>
    text.includes(";p=1;")
      ? "RS0;p=1/2;h=1;b=on,10.0.0.7,4000,3,off.on,joan@bb.com"
      : "RS0;p=2/2;h=1;b=?,,,,,pere@cc.com"
  );
  const session = new ExtendedSession(client, "laura@bb.com", SESSION, {
    clock: new ManualClock(),
  });
  assertEquals(await session.buddies(), [
    {
      address: "joan@bb.com",
      state: "on",
      endpoint: { ip: "10.0.0.7", port: 4000 },
      seq: 3,
      trail: ["off", "on"],
    },
    { address: "pere@cc.com", state: "?" },
  ]);
  assertEquals(sent, ["PSlaura@bb.com;p=1;h=1", "PSlaura@bb.com;p=2;h=1"]);
  const broken = scripted(() => "RS0;p=1/1;b=on,10.0.0.7,4000");
  assertEquals(
    await new ExtendedSession(broken.client, "laura@bb.com", SESSION, {
      clock: new ManualClock(),
    }).buddies(),
    undefined,
  );
});

Deno.test("the online list, buddy changes and deregistration read the node's answers", async () => {
  const answers: Record<string, string> = {
    PO: "RO0;p=1/1;u=joan;u=laura",
    PB: "RB1;e=full",
    PD: "RD1;v=2;e=replaced",
  };
  const { client, sent } = scripted((text) => answers[text.slice(0, 2)]!);
  const session = new ExtendedSession(client, "laura@bb.com", SESSION, {
    clock: new ManualClock(),
  });
  assertEquals(await session.online(), ["joan", "laura"]);
  assertEquals(await session.addBuddy("joan@cc.com"), "your buddy list is full");
  answers["PB"] = "RB1;e=later";
  assertEquals(await session.removeBuddy("joan@cc.com"), "refused");
  assertEquals(await session.deregister(), "another agent has signed in as this user");
  assertEquals(sent, [
    "POlaura@bb.com;p=1",
    "PBlaura@bb.com;op=add;b=joan@cc.com",
    "PBlaura@bb.com;op=del;b=joan@cc.com",
    "PDlaura@bb.com;v=2",
  ]);
});

Deno.test("a heartbeat told the session was replaced stops, and says from where", async () => {
  const clock = new ManualClock();
  const { client, sent } = scripted(() => "RK1;e=replaced;at=10.0.0.9:4009");
  let replaced: Endpoint | undefined | null = null;
  const session = new ExtendedSession(client, "laura@bb.com", SESSION, {
    clock,
    busy: () => true,
    onReplaced: (at) => replaced = at,
  });
  session.start();
  clock.advance(30_000);
  for (let i = 0; i < 5 && replaced === null; i++) await Promise.resolve();
  assertEquals(replaced, { ip: "10.0.0.9", port: 4009 });
  clock.advance(60_000);
  assertEquals(sent, ["PKlaura@bb.com;st=busy"], "no more heartbeats");
});
