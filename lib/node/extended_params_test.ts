/**
 * Unit tests of how {@linkcode ExtendedService} reads hostile parameters
 * through the typed definitions of `lib/plumi/extensions/`: a parameter
 * repeated, too long or malformed is read as absent, so the answer is the
 * documented one for a request without it, never an exception. No
 * permissions needed.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi, formatPlumi } from "../plumi/codec.ts";
import { MAX_EXTENDED_PACKET_BYTES } from "../plumi/messages.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import { ExtendedService } from "./extended.ts";
import { AccountStore } from "./store.ts";
import { TestAgent } from "./test_agent.ts";

const LAURA: Endpoint = { ip: "10.0.0.1", port: 4001 };
const JOAN: Endpoint = { ip: "10.0.0.2", port: 4002 };

function setup(settings: ConstructorParameters<typeof ExtendedService>[0]["settings"] = {}) {
  const directory = new MemoryDirectory(["laura", "joan"]);
  const store = AccountStore.open(":memory:");
  const service = new ExtendedService({
    domain: "bb.com",
    directory,
    store,
    isLocal: (d) => d.toLowerCase() === "bb.com",
    now: () => 1_000_000,
    settings,
  });
  /** Handle `text` from `from`; the answer's text, or null. Never throws (else the test fails). */
  const ask = async (text: string, from: Endpoint = LAURA) => {
    const decoded = decodePlumi(new TextEncoder().encode(text), {
      maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES,
    });
    if (!decoded.ok) throw new Error(`bad test packet "${text}": ${decoded.error.message}`);
    // A PR as an agent pads it; anything else at its length (a seal covers exactly its bytes).
    const size = text.startsWith("PR") ? Math.max(text.length, 100) : text.length;
    const action = await service.handle(decoded.message, from, size);
    return action === undefined ? null : formatPlumi(action.message);
  };
  const login = async (address: string, from: Endpoint) => {
    const agent = new TestAgent(address);
    return agent.keep((await ask(agent.hello(), from))!);
  };
  return { ask, login, store };
}

Deno.test("a status page number that is not a whole number gets page 1, not an internal error", async () => {
  const { ask, login, store } = setup();
  const t = await login("laura@bb.com", LAURA);
  store.addBuddy("laura", "joan@bb.com");
  // `p=1.5` used to pick page 0.5 of the list, which does not exist: the handler threw.
  assertEquals(await ask(t.seal(`PSlaura@bb.com;p=1.5`)), "RS0;p=1/1;b=?,,,joan@bb.com");
  assertEquals(await ask(t.seal(`PSlaura@bb.com;p=-3;h=1`)), "RS0;p=1/1;b=?,,,joan@bb.com");
  assertEquals(await ask(t.seal(`PSlaura@bb.com;p=9;h=1`)), "RS0;p=1/1;h=1;b=?,,,,,joan@bb.com");
});

Deno.test("a seal given twice, or not last, proves nothing, whichever copy is right", async () => {
  const { ask, login } = setup();
  const t = await login("laura@bb.com", LAURA);
  const twice = (packet: string) => {
    const sealed = t.seal(packet);
    return `${sealed};${sealed.slice(sealed.indexOf(";q=") + 1)}`;
  };
  const first = (packet: string) => {
    const sealed = t.seal(packet.replace(/;.*/, ""));
    return packet.replace(/^([^;]*)/, sealed);
  };
  assertEquals(await ask(twice(`PKlaura@bb.com`)), "RK1;e=auth");
  assertEquals(await ask(twice(`PBlaura@bb.com;op=add;b=joan@bb.com`)), "RB1;e=auth");
  assertEquals(await ask(first(`PBlaura@bb.com;op=add;b=joan@bb.com`)), "RB1;e=auth");
  assertEquals(await ask(twice(`PSlaura@bb.com`)), "RS1;e=auth");
  assertEquals(await ask(twice(`POlaura@bb.com`)), "RO1;e=auth");
  // An old clear token (`t=`, before this version) is no seal either.
  assertEquals(await ask(`PKlaura@bb.com;t=AAAAAAAAAAAAAAAAAAAAAA`), "RK1;e=auth");
  assertEquals(await ask(t.seal(`PKlaura@bb.com`)), `RK0;c=0.0.0`, "the session itself is kept");
});

Deno.test("a first PR without a session key, or with one that is no key, is refused as invalid", async () => {
  const { ask } = setup();
  assertEquals(await ask("PRlaura@bb.com;v=2"), "RR1;v=2;e=invalid");
  assertEquals(await ask(`PRlaura@bb.com;v=2;k=${"A".repeat(43)}`), "RR1;v=2;e=invalid");
  assertEquals(await ask("PRlaura@bb.com;v=2;k=AAAA"), "RR1;v=2;e=invalid");
  assertEquals(await ask("PRnobody@bb.com;v=2"), "RR1;v=2;e=user");
});

Deno.test("a buddy change with a repeated, too long or malformed field is refused as invalid", async () => {
  const { ask, login } = setup();
  const t = await login("laura@bb.com", LAURA);
  const pb = (rest: string) => ask(t.seal(`PBlaura@bb.com;${rest}`));
  assertEquals(await pb("op=add;b=joan@bb.com;b=pere@bb.com"), "RB1;e=invalid");
  assertEquals(await pb("op=add;op=del;b=joan@bb.com"), "RB1;e=invalid");
  assertEquals(await pb(`op=add;b=${"n".repeat(65)}@bb.com`), "RB1;e=invalid");
  assertEquals(await pb("op=ADD;b=joan@bb.com"), "RB1;e=invalid");
  assertEquals(await pb("b=joan@bb.com"), "RB1;e=invalid");
  assertEquals(await pb("op=add;b=joan@bb.com"), "RB0");
});

Deno.test("a heartbeat with st= repeated or unknown is read as not busy, and still answered", async () => {
  const { ask, login, store } = setup();
  const laura = await login("laura@bb.com", LAURA);
  const joan = await login("joan@bb.com", JOAN);
  store.addBuddy("laura", "joan@bb.com");
  store.addBuddy("joan", "laura@bb.com");
  const seen = async () => (await ask(joan.seal(`PSjoan@bb.com`), JOAN))!.split(",")[0];
  assert((await ask(laura.seal(`PKlaura@bb.com;st=busy`)))!.startsWith("RK0;c="));
  assertEquals(await seen(), "RS0;p=1/1;b=busy");
  assert((await ask(laura.seal(`PKlaura@bb.com;st=busy;st=busy`)))!.startsWith("RK0;c="));
  assertEquals(await seen(), "RS0;p=1/1;b=on");
  assert((await ask(laura.seal(`PKlaura@bb.com;st=busy`)))!.startsWith("RK0;c="));
  assert((await ask(laura.seal(`PKlaura@bb.com;st=away`)))!.startsWith("RK0;c="));
  assertEquals(await seen(), "RS0;p=1/1;b=on");
});

Deno.test("replace given twice is no request to replace: the live session is kept", async () => {
  const { ask, login } = setup();
  await login("laura@bb.com", LAURA);
  const other = new TestAgent("laura@bb.com");
  assertEquals(await ask(other.hello(";replace;replace"), JOAN), "RR1;v=2;e=signed-in");
  assert((await ask(other.hello(";replace"), JOAN))!.startsWith("RR0;v=2;k="));
});

Deno.test("a sign-up whose iterations are not a plain decimal number is invalid", async () => {
  const { ask } = setup({ openSignup: true });
  const salt = "A".repeat(22);
  const key = "B".repeat(43);
  const pu = (i: string) => ask(`PUnuria@bb.com;s=${salt};i=${i};k=${key}`, JOAN);
  assertEquals(await pu("1e6"), "RU2;e=invalid");
  assertEquals(await pu("0600000"), "RU2;e=invalid");
  assertEquals(await ask(`PUnuria@bb.com;s=${salt};s=${salt};i=600000;k=${key}`), "RU2;e=invalid");
  assertEquals(await pu("600000"), "RU0");
});

Deno.test("an online list request with a malformed cursor gets the first page by number", async () => {
  const { ask, login } = setup();
  const t = await login("laura@bb.com", LAURA);
  assertEquals(await ask(t.seal(`POlaura@bb.com;c=a b`)), "RO0;p=1/1;u=laura");
  assertEquals(await ask(t.seal(`POlaura@bb.com;c=`)), "RO0;u=laura");
});
