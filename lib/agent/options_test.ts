import assert from "#assert";
import { UsageError } from "./errors.ts";
import { checkAddress, checkNick, defaultLogFile, resolveAgentOptions } from "./options.ts";

Deno.test("options get their documented defaults", () => {
  const o = resolveAgentOptions({});
  assert.equal(o.port, 0);
  // Issue 19: by default only the advertised address listens (was "0.0.0.0").
  assert.equal(o.listenIp, undefined);
  assert.equal(o.retryIntervalMs, 1000);
  assert.equal(o.attempts, 5);
  assert.equal(o.nickTimeoutMs, 10_000);
  assert.equal(o.connectTimeoutMs, 5_000);
  assert.equal(o.logFlushMs, 250);
  assert.equal(o.logFile, undefined);
  assert.equal(o.address, undefined);
  assert.equal(o.maxChats, 8);
  assert.equal(o.maxGroups, 4);
  assert.equal(o.maxGroupSize, 16);
  assert.equal(o.groupPort, 0);
  assert.equal(o.frameTimeoutMs, 5_000);
  assert.equal(o.groupIdleMs, 45_000);
  assert.equal(o.maxPendingHandshakes, 32);
  assert.equal(o.maxPendingPerIp, 8);
  assert.equal(o.maxQueuedBytes, 1024 * 1024);
  assert.equal(o.refusalReportMs, 2_000);
});

Deno.test("bad options are refused before any I/O, naming what is wrong", () => {
  const cases: Array<[Parameters<typeof resolveAgentOptions>[0], RegExp]> = [
    [{ address: "laura" }, /Bad address: .*no "@"/],
    [{ address: `${"a".repeat(60)}@${"b".repeat(40)}.com` }, /too long/],
    [{ nick: "" }, /Bad nickname: the nickname is empty/],
    [{ nick: "x".repeat(100) }, /at most 99/],
    [{ nick: "a\x1bb" }, /control characters/],
    [{ port: 70000 }, /^--port must be a whole number from 0 to 65535$/],
    [{ advertise: "0.0.0.0" }, /Bad advertised IP/],
    [{ advertise: "bb.com" }, /Bad advertised IP/],
    [{ node: { ip: "1.2.3", port: 3344 } }, /Bad node endpoint/],
    [{ attempts: 0 }, /attempts must be a positive number/],
    [{ nickTimeoutMs: -1 }, /^--nick-timeout \(seconds\) must be a positive number$/],
    [{ logFile: "" }, /log file name is empty/],
    [{ maxChats: 0 }, /^--max-chats must be a whole number from 1 to 1000$/],
    [{ maxGroups: 1.5 }, /^--max-groups must be a whole number/],
    [{ maxGroupSize: 65 }, /^--max-group-size must be a whole number from 2 to 64$/],
    [{ groupPort: 3500, port: 3500 }, /group port 3500 is the conversation port/],
    [{ frameTimeoutMs: 0 }, /^--frame-timeout \(seconds\) must be a positive number$/],
    [{ maxPendingPerIp: 0 }, /^--max-handshakes-per-ip must be/],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => resolveAgentOptions(options), (e: unknown) => {
      if (!(e instanceof UsageError)) return false;
      assert.match(e.message, message);
      return true;
    });
  }
});

Deno.test("addresses and nicknames are checked the same way when asked interactively", () => {
  assert.equal(checkAddress("u1@PC-c"), undefined);
  assert.match(checkAddress("u1@") ?? "", /invalid domain/);
  assert.equal(checkNick("Laura Pérez"), undefined);
  assert.match(checkNick("   ") ?? "", /empty/);
});

Deno.test("the packet log is named after the user, in the working directory", () => {
  assert.equal(defaultLogFile("laura@bb.com"), "laura@bb.com.log");
  assert.equal(defaultLogFile("../x@bb.com"), ".._x@bb.com.log");
  assert.equal(defaultLogFile("laura@bb.com", "/d/lumi"), "/d/lumi/logs/laura@bb.com.log");
});
