import assert from "#assert";
import { ConfigError, parseConfig } from "./config.ts";
import { relayAddresses } from "./relay_config.ts";

Deno.test("[relay] is off unless enabled; its settings are read in their units", () => {
  assert.equal(parseConfig("domain = bb.com\n[users]\nlaura\n").relay, undefined);
  const config = parseConfig([
    "domain = bb.com",
    "[relay]",
    "enabled = yes",
    "listen = 203.0.113.1:0",
    "max-sessions = 10",
    "max-per-user = 2",
    "max-bytes = 65536",
    "idle = 30",
    "pair-timeout = 5",
    "hello-timeout = 2",
    "[users]",
    "laura",
  ].join("\n"));
  assert.deepEqual(config.relay, {
    enabled: true,
    listen: { ip: "203.0.113.1", port: 0 },
    limits: {
      maxSessions: 10,
      perUser: 2,
      maxBytes: 65536,
      idleMs: 30_000,
      pairMs: 5_000,
      helloMs: 2_000,
    },
  });
  assert.deepEqual(relayAddresses(config.relay!, { ip: "203.0.113.1", port: 3344 }), {
    listen: { ip: "203.0.113.1", port: 0 },
    advertise: "203.0.113.1",
  });
  assert.deepEqual(relayAddresses({ enabled: true }, { ip: "198.51.100.7", port: 3344 }), {
    listen: { ip: "198.51.100.7", port: 3345 },
    advertise: "198.51.100.7",
  });
});

Deno.test("bad [relay] settings are refused with the line and the reason", () => {
  const cases: Array<[string, RegExp]> = [
    ["enabled = perhaps", /line 3: enabled must be yes or no/],
    ["idle = 0", /line 3: idle must be a whole number 1-86400/],
    ["max-bytes = 10", /line 3: max-bytes must be a whole number 1024-/],
    ["colour = blue", /line 3: unknown relay setting "colour"/],
    ["advertise = 0.0.0.0", /line 3: advertise: "0.0.0.0" is not an IPv4 address/],
  ];
  for (const [line, message] of cases) {
    assert.throws(() => parseConfig(`domain = bb.com\n[relay]\n${line}\n`), (error: unknown) => {
      if (!(error instanceof ConfigError)) return false;
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(
    () => parseConfig("domain = bb.com\n[relay]\nenabled = yes\nlisten = 0.0.0.0:3345\n"),
    /listen is 0\.0\.0\.0: give advertise/,
  );
});
