/**
 * Unit tests of {@linkcode ExtendedService}: decoded datagrams in, answers
 * out, with a fake clock, an in-memory SQLite account store and a fake
 * source of remote presence. No permissions needed. The same behaviour is
 * tested end to end against node processes in tests/extensions_test.ts.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import { createCredentials, toBase64Url } from "../auth.ts";
import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, formatPlumi } from "../plumi/codec.ts";
import { MAX_EXTENDED_PACKET_BYTES } from "../plumi/messages.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import { type BuddyState, ExtendedService, type RemoteBuddies } from "./extended.ts";
import { AccountStore } from "./store.ts";
import { TestAgent } from "./test_agent.ts";

const LAURA: Endpoint = { ip: "10.0.0.1", port: 4001 };
const JOAN: Endpoint = { ip: "10.0.0.2", port: 4002 };
const ELSEWHERE: Endpoint = { ip: "10.0.0.9", port: 4009 };
const NODE_CC: Endpoint = { ip: "10.0.1.1", port: 3344 };

/** Remote presence as a table the test fills in. */
class FakeRemote implements RemoteBuddies {
  readonly table = new Map<string, { state: BuddyState; endpoint?: Endpoint; stamp: number }>();
  readonly asked: string[] = [];

  status(watcher: string, buddy: string) {
    this.asked.push(`${watcher}|${buddy}`);
    return this.table.get(buddy) ?? { state: "?" as const, stamp: 0 };
  }
}

interface Options {
  users?: string[];
  domain?: string;
  passwords?: Record<string, string>;
  settings?: ConstructorParameters<typeof ExtendedService>[0]["settings"];
}

/** A service for `bb.com` (or `domain`) over a fresh in-memory store; `clock.now` is the time. */
async function setup(options: Options = {}) {
  const domain = options.domain ?? "bb.com";
  const directory = new MemoryDirectory(options.users ?? ["laura", "joan", "pere"]);
  const store = AccountStore.open(":memory:");
  for (const [name, password] of Object.entries(options.passwords ?? {})) {
    store.setPassword(name, await createCredentials(password, 1_000));
  }
  const clock = { now: 1_000_000 };
  const remote = new FakeRemote();
  const key = (d: string) => d.toLowerCase().replace(/\.$/, "");
  const make = (dir = directory) =>
    new ExtendedService({
      domain,
      directory: dir,
      store,
      remote,
      isLocal: (d) => key(d) === key(domain),
      now: () => clock.now,
      ...(options.settings && { settings: options.settings }),
    });
  const service = make();
  /** Handle `text` from `from`; the answer's text, or null when there is none. */
  // A PR as an agent pads it; anything else at its length (a seal covers exactly its bytes).
  const ask = async (
    text: string,
    from: Endpoint,
    size = text.startsWith("PR") ? Math.max(text.length, 100) : text.length,
  ) => {
    const decoded = decodePlumi(new TextEncoder().encode(text), {
      maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES,
    });
    if (!decoded.ok) throw new Error(`bad test packet "${text}": ${decoded.error.message}`);
    const action = await service.handle(decoded.message, from, size);
    if (action === undefined) return null;
    assertEquals(action.to, from, "answers go back to the sender");
    return formatPlumi(action.message);
  };
  return { service, directory, store, clock, remote, ask, make, domain };
}

const param = (text: string, key: string) =>
  text.split(";").find((p) => p.startsWith(`${key}=`))?.slice(key.length + 1);

/** Each address's agent (its session key pair), for the first PRs and proofs below. */
const agents = new Map<string, TestAgent>();
function agentOf(address: string): TestAgent {
  let agent = agents.get(address);
  if (!agent) agents.set(address, agent = new TestAgent(address));
  return agent;
}

/** The first PR of `address`'s agent, with its session key. */
const hello = (address: string) => agentOf(address).hello();

/** Register `address` without a password from `from`; returns its agent, holding the session. */
async function login(
  ask: (t: string, f: Endpoint) => Promise<string | null>,
  address: string,
  from: Endpoint,
): Promise<TestAgent> {
  const agent = new TestAgent(address);
  return agent.keep((await ask(agent.hello(), from))!);
}

/** A proof of `password` for the challenge in `answer`, bound to the agent's session key. */
function proofFor(address: string, password: string, answer: string): Promise<string> {
  return agentOf(address).proof(password, answer);
}

Deno.test("a proof answers only its own challenge, and only within 30 s", async () => {
  const { ask, clock } = await setup({ passwords: { laura: "pw", joan: "pw" } });
  const first = (await ask(hello("laura@bb.com"), LAURA))!;
  assert(first.startsWith("RR1;v=2;e=auth;n="), first);
  clock.now += 30_001;
  const late = (await ask(await proofFor("laura@bb.com", "pw", first), LAURA))!;
  assert(late.startsWith("RR1;v=2;e=auth;n="), `a stale nonce: ${late}`);
  // joan's nonce does not prove laura (the address is signed).
  const joans = (await ask(hello("joan@bb.com"), JOAN))!;
  const crossed = (await proofFor("laura@bb.com", "pw", joans)).replace(
    /n=[^;]*/,
    `n=${param(joans, "n")}`,
  );
  assert((await ask(crossed, LAURA))!.startsWith("RR1;v=2;e=auth;"));
  const fresh = (await ask(hello("laura@bb.com"), LAURA))!;
  clock.now += 29_999;
  assert((await ask(await proofFor("laura@bb.com", "pw", fresh), LAURA))!.startsWith("RR0;v=2;k="));
  // joan's challenge is still pending and still good.
  assert((await ask(await proofFor("joan@bb.com", "pw", joans), JOAN))!.startsWith("RR0;v=2;k="));
});

Deno.test("a challenge goes only to a request at least as long as the challenge", async () => {
  const { ask } = await setup({ passwords: { laura: "pw" } });
  assertEquals(await ask(hello("laura@bb.com"), LAURA, 20), "RR1;v=2;e=pad");
  const challenge = (await ask(hello("laura@bb.com"), LAURA, 100))!;
  assertEquals(await ask(hello("laura@bb.com"), LAURA, challenge.length - 1), "RR1;v=2;e=pad");
  const exact = (await ask(hello("laura@bb.com"), LAURA, challenge.length))!;
  assertEquals(exact.length, challenge.length);
  assertEquals(await ask(hello("marta@bb.com"), LAURA), "RR1;v=2;e=user");
  assertEquals(await ask(hello("laura@cc.com"), LAURA), "RR1;v=2;e=user");
});

Deno.test("an extended agent goes offline after exactly three missed heartbeats; original registrations only with expire-original", async () => {
  const { ask, service, directory, clock } = await setup({
    settings: { heartbeatMs: 10_000 },
  });
  const token = await login(ask, "laura@bb.com", LAURA);
  directory.register("joan", JOAN, clock.now); // an original agent's PR
  clock.now += 29_000;
  assertEquals(await ask(token.seal(`PKlaura@bb.com`), LAURA), `RK0;c=0.0.0`);
  clock.now += 30_000;
  assertEquals(service.sweep(), []);
  clock.now += 1;
  assertEquals(service.sweep(), ["laura"]);
  assertEquals(directory.get("laura"), null);
  assertEquals(await ask(token.seal(`PKlaura@bb.com`), LAURA), "RK1");
  assertEquals(directory.get("joan")?.endpoint, JOAN, "an original registration stays");
});

Deno.test("original registrations expire after expire-original without a new PR, and never by default", async () => {
  const never = await setup({ settings: { heartbeatMs: 1_000 } });
  never.directory.register("joan", JOAN, never.clock.now);
  never.clock.now += 365 * 86_400_000;
  assertEquals(never.service.sweep(), []);

  const { service, directory, clock } = await setup({ settings: { expireOriginalMs: 45_000 } });
  directory.register("joan", JOAN, clock.now);
  clock.now += 45_000;
  assertEquals(service.sweep(), []);
  clock.now += 1;
  assertEquals(service.sweep(), ["joan"]);
});

Deno.test("a heartbeat from a new address moves the registration; later requests count only from there", async () => {
  const { ask, directory } = await setup();
  const token = await login(ask, "laura@bb.com", LAURA);
  assertEquals(await ask(token.seal(`PKlaura@bb.com`), ELSEWHERE), "RK0;c=0.0.0");
  assertEquals(directory.get("laura")?.endpoint, ELSEWHERE);
  assertEquals(await ask(token.seal(`PSlaura@bb.com`), LAURA), "RS1;e=auth");
  assertEquals(await ask(token.seal(`PSlaura@bb.com`), ELSEWHERE), "RS0;p=1/1");
  assertEquals(directory.hasEndpoint(LAURA), false);
});

Deno.test("presence queries from other nodes: 0 on with at, 1 busy, 2 unknown, 3 offline, 4 not shared", async () => {
  const { ask, store } = await setup();
  const q = (buddy: string, watcher: string) => ask(`PP${buddy};w=${watcher}`, NODE_CC);
  assertEquals(await q("laura@bb.com", "nuria@cc.com"), "RP4;w=nuria@cc.com;b=laura@bb.com");
  store.addBuddy("laura", "nuria@cc.com");
  assertEquals(await q("laura@bb.com", "nuria@cc.com"), "RP3;w=nuria@cc.com;b=laura@bb.com");
  const token = await login(ask, "laura@bb.com", LAURA);
  assertEquals(
    await q("laura@bb.com", "nuria@cc.com"),
    "RP0;w=nuria@cc.com;b=laura@bb.com;at=10.0.0.1:4001",
  );
  await ask(token.seal(`PKlaura@bb.com;st=busy`), LAURA);
  assertEquals(
    await q("laura@bb.com", "nuria@cc.com"),
    "RP1;w=nuria@cc.com;b=laura@bb.com;at=10.0.0.1:4001",
  );
  assertEquals(await q("laura@bb.com", "other@cc.com"), "RP4;w=other@cc.com;b=laura@bb.com");
  assertEquals(await q("marta@bb.com", "nuria@cc.com"), "RP2;w=nuria@cc.com;b=marta@bb.com");
  assertEquals(await q("laura@dd.com", "nuria@cc.com"), "RP2;w=nuria@cc.com;b=laura@dd.com");
  assertEquals(await ask("PPlaura@bb.com;w=nonsense", NODE_CC), "RP2;w=nonsense;b=laura@bb.com");
  assertEquals(await ask("PPlaura@bb.com", NODE_CC), "RP2;w=;b=laura@bb.com");
});

Deno.test("the heartbeat mark changes when a sharing buddy comes online, goes busy or offline, or starts or stops sharing, and only then", async () => {
  const { ask } = await setup();
  const laura = await login(ask, "laura@bb.com", LAURA);
  const mark = async () => param((await ask(laura.seal(`PKlaura@bb.com`), LAURA))!, "c")!;
  assertEquals(await ask(laura.seal(`PBlaura@bb.com;op=add;b=joan@bb.com`), LAURA), "RB0");
  const marks = [await mark()];
  // joan has not added laura: her coming and going must not show, not even in the mark.
  const joan = await login(ask, "joan@bb.com", JOAN);
  await ask(joan.seal(`PKjoan@bb.com;st=busy`), JOAN);
  assertEquals(await mark(), marks[0], "a buddy who does not share reveals nothing");
  assertEquals(await ask(joan.seal(`PBjoan@bb.com;op=add;b=laura@bb.com`), JOAN), "RB0");
  marks.push(await mark());
  assertEquals(await mark(), marks.at(-1), "nothing changed, same mark");
  await ask(joan.seal(`PKjoan@bb.com`), JOAN);
  marks.push(await mark());
  await ask(joan.seal(`PKjoan@bb.com`), JOAN);
  assertEquals(await mark(), marks.at(-1), "still free, same mark");
  await ask(joan.seal(`PKjoan@bb.com;st=busy`), JOAN);
  marks.push(await mark());
  assertEquals(await ask(joan.seal(`PBjoan@bb.com;op=add;b=laura@bb.com`), JOAN), "RB0");
  assertEquals(await mark(), marks.at(-1), "adding a buddy again changes nothing");
  // pere shares too, and changed last: joan stopping to share must still show.
  assertEquals(await ask(laura.seal(`PBlaura@bb.com;op=add;b=pere@bb.com`), LAURA), "RB0");
  const pere = await login(ask, "pere@bb.com", ELSEWHERE);
  assertEquals(await ask(pere.seal(`PBpere@bb.com;op=add;b=laura@bb.com`), ELSEWHERE), "RB0");
  marks.push(await mark());
  assertEquals(await ask(joan.seal(`PBjoan@bb.com;op=del;b=laura@bb.com`), JOAN), "RB0");
  marks.push(await mark());
  assertEquals(await ask(joan.seal(`PDjoan@bb.com;v=2`), JOAN), "RD0;v=2");
  assertEquals(await mark(), marks.at(-1), "joan no longer shares: her leaving does not show");
  assertEquals(await ask(pere.seal(`PDpere@bb.com;v=2`), ELSEWHERE), "RD0;v=2");
  marks.push(await mark());
  assertEquals(new Set(marks).size, marks.length, `every change a new mark: ${marks}`);
});

Deno.test("buddies of other domains: state and mark come from their nodes' answers", async () => {
  const { ask, remote } = await setup();
  const laura = await login(ask, "laura@bb.com", LAURA);
  assertEquals(await ask(laura.seal(`PBlaura@bb.com;op=add;b=nuria@cc.com`), LAURA), "RB0");
  assertEquals(await ask(laura.seal(`PSlaura@bb.com`), LAURA), "RS0;p=1/1;b=?,,,nuria@cc.com");
  assertEquals(await ask(laura.seal(`PKlaura@bb.com`), LAURA), "RK0;c=0.0.0");
  remote.table.set("nuria@cc.com", {
    state: "on",
    endpoint: { ip: "10.1.1.1", port: 5 },
    stamp: 7,
  });
  assertEquals(await ask(laura.seal(`PKlaura@bb.com`), LAURA), "RK0;c=0.0.7");
  assertEquals(
    await ask(laura.seal(`PSlaura@bb.com`), LAURA),
    "RS0;p=1/1;b=on,10.1.1.1,5,nuria@cc.com",
  );
  assertEquals(new Set(remote.asked), new Set(["laura@bb.com|nuria@cc.com"]));
});

Deno.test("buddy status is paged within 512 bytes, every buddy on exactly one page", async () => {
  const { ask } = await setup({ settings: { maxBuddies: 1_000 } });
  const laura = await login(ask, "laura@bb.com", LAURA);
  const buddies = Array.from(
    { length: 60 },
    (_, i) =>
      `${String(i).padStart(2, "0")}${"x".repeat(62)}@some-rather-long-domain-name.example.com`,
  );
  for (const b of buddies) {
    assertEquals(await ask(laura.seal(`PBlaura@bb.com;op=add;b=${b}`), LAURA), "RB0");
  }
  const first = (await ask(laura.seal(`PSlaura@bb.com`), LAURA))!;
  const pages = Number(param(first, "p")!.split("/")[1]);
  const seen: string[] = [];
  for (let p = 1; p <= pages; p++) {
    const answer = (await ask(laura.seal(`PSlaura@bb.com;p=${p}`), LAURA))!;
    assert(answer.length <= MAX_EXTENDED_PACKET_BYTES, `page ${p}: ${answer.length} bytes`);
    assert(answer.startsWith(`RS0;p=${p}/${pages};`));
    for (const entry of answer.split(";").slice(2)) seen.push(entry.replace(/^b=\?,,,/, ""));
  }
  assertEquals(seen, buddies.toSorted());
  assertEquals(pages, Math.ceil(60 / Math.floor((512 - 17) / (buddies[0]!.length + 8))));
  for (const p of ["0", "-1", "x", "99"]) {
    const answer = (await ask(laura.seal(`PSlaura@bb.com;p=${p}`), LAURA))!;
    assertEquals(param(answer, "p"), p === "99" ? `${pages}/${pages}` : `1/${pages}`);
  }
});

Deno.test("buddy addresses compare without regard to the domain's case or a trailing dot", async () => {
  const { ask } = await setup({ domain: "PC-c", users: ["u1", "u2"] });
  const u1 = await login(ask, "u1@PC-c", LAURA);
  const u2 = await login(ask, "u2@pc-c", JOAN);
  assertEquals(await ask(u1.seal(`PBu1@PC-c;op=add;b=u1@pc-c.`), LAURA), "RB1;e=self");
  assertEquals(await ask(u1.seal(`PBu1@PC-c;op=add;b=u2@pc-c`), LAURA), "RB0");
  assertEquals(await ask(u2.seal(`PBu2@pc-c;op=add;b=u1@PC-C.`), JOAN), "RB0");
  assertEquals(
    await ask(u1.seal(`PSu1@PC-c`), LAURA),
    "RS0;p=1/1;b=on,10.0.0.2,4002,u2@pc-c",
  );
  assertEquals(await ask(u2.seal(`PSu2@pc-c`), JOAN), "RS0;p=1/1;b=on,10.0.0.1,4001,u1@pc-c");
  assertEquals(await ask(u2.seal(`PBu2@pc-c;op=del;b=u1@pc-c`), JOAN), "RB0");
  assertEquals(await ask(u1.seal(`PSu1@PC-c`), LAURA), "RS0;p=1/1;b=?,,,u2@pc-c");
  // Another node's watcher, written in another case, is the same watcher.
  assertEquals(await ask(u1.seal(`PBu1@PC-c;op=add;b=nuria@CC.com`), LAURA), "RB0");
  assertEquals(
    await ask("PPu1@pc-c;w=nuria@cc.COM.", NODE_CC),
    "RP0;w=nuria@cc.COM.;b=u1@pc-c;at=10.0.0.1:4001",
  );
});

Deno.test("sign-up creates a protected user at once; the console can set, clear and forget passwords; a restart keeps them", async () => {
  const { ask, service, store, directory, make } = await setup({
    settings: { openSignup: true, minIterations: 100_000 },
  });
  const credentials = await createCredentials("pw", 100_000);
  const signUp = `PUnuria@bb.com;s=${toBase64Url(credentials.salt)};i=100000;k=${
    toBase64Url(credentials.storedKey)
  }`;
  assertEquals(await ask(signUp, ELSEWHERE), "RU0");
  assertEquals([directory.has("nuria"), service.isProtected("nuria")], [true, true]);
  // A copy of the same sign-up (a retransmission whose RU0 was lost) is answered the same;
  // another sign-up of the name is refused.
  assertEquals(await ask(signUp, ELSEWHERE), "RU0");
  const other = await createCredentials("other", 100_000);
  assertEquals(
    await ask(signUp.replace(/k=.*/, `k=${toBase64Url(other.storedKey)}`), ELSEWHERE),
    "RU1;e=taken",
  );
  // The probes' name is never a user: its agent would receive the answers to the node's probes.
  assertEquals(await ask(signUp.replace("PUnuria@", "PU.lumi-probe@"), ELSEWHERE), "RU2;e=invalid");
  assertEquals(directory.has(".lumi-probe"), false);
  const challenge = (await ask(hello("nuria@bb.com"), LAURA))!;
  assertEquals(param(challenge, "i"), "100000");
  assert((await ask(await proofFor("nuria@bb.com", "pw", challenge), LAURA))!.startsWith("RR0;"));

  service.setPassword("joan", await createCredentials("joans", 1_000));
  assert((await ask(hello("joan@bb.com"), JOAN))!.startsWith("RR1;v=2;e=auth;"));
  assertEquals(service.clearPassword("joan"), true);
  assertEquals(service.isProtected("joan"), false);
  assert((await ask(hello("joan@bb.com"), JOAN))!.startsWith("RR0;v=2;k="));
  assertEquals(service.clearPassword("pere"), false);

  // A new service over the same store (a restart) knows nuria and her password.
  const restarted = new MemoryDirectory(["laura", "joan", "pere"], store.signedUpNames());
  const again = make(restarted);
  assertEquals([restarted.has("nuria"), again.isProtected("nuria")], [true, true]);
  assertEquals(again.isProtected("joan"), false);
  service.forget("nuria");
  assertEquals([service.isProtected("nuria"), store.get("nuria")], [false, undefined]);
});
