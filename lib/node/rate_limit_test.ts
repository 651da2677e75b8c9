import { deepStrictEqual as assertEquals, throws as assertThrows } from "#assert";
import { RateLimiter } from "./rate_limit.ts";

Deno.test("rate limiter passes up to the limit per window, then bans for the ban time", () => {
  const limiter = new RateLimiter({ limit: 3, windowMs: 1_000, banMs: 5_000 });
  const verdicts = [0, 1, 2, 3, 4].map((t) => limiter.check("10.0.0.1", t));
  assertEquals(verdicts, ["pass", "pass", "pass", "ban-starts", "banned"]);
  assertEquals(limiter.bans, 1);
  assertEquals(limiter.dropped, 2);
  assertEquals(limiter.check("10.0.0.1", 5_002), "banned");
  assertEquals(limiter.check("10.0.0.1", 5_003), "pass");
});

Deno.test("rate limiter starts a new window after the window length", () => {
  const limiter = new RateLimiter({ limit: 2, windowMs: 100 });
  assertEquals([limiter.check("a", 0), limiter.check("a", 50), limiter.check("a", 100)], [
    "pass",
    "pass",
    "pass",
  ]);
  assertEquals(limiter.check("a", 150), "pass");
  assertEquals(limiter.check("a", 160), "ban-starts");
});

Deno.test("a flooding source does not affect another source", () => {
  const limiter = new RateLimiter({ limit: 10 });
  for (let i = 0; i < 1_000; i++) limiter.check("6.6.6.6", i / 10);
  assertEquals(limiter.isBanned("6.6.6.6", 100), true);
  assertEquals(limiter.check("1.1.1.1", 100), "pass");
  assertEquals(limiter.bans, 1);
});

Deno.test("an exempt address has a larger budget and is never banned, but its excess is dropped", () => {
  const limiter = new RateLimiter({ limit: 1, windowMs: 1_000, exempt: ["127.0.0.3"] });
  // 100 × the limit by default: 100 pass, the 101st starts the throttling, the rest are dropped.
  const verdicts = Array.from({ length: 150 }, () => limiter.check("127.0.0.3", 0));
  assertEquals(verdicts.filter((v) => v === "pass").length, 100);
  assertEquals(verdicts[100], "throttle-starts");
  assertEquals(verdicts.slice(101).every((v) => v === "throttled"), true);
  assertEquals(limiter.bans, 0);
  assertEquals(limiter.dropped, 50);
  // Not banned: served again as soon as the window ends; a flood that goes on is reported once.
  assertEquals(limiter.check("127.0.0.3", 1_000), "pass");
  for (let i = 0; i < 100; i++) limiter.check("127.0.0.3", 1_000);
  assertEquals(limiter.check("127.0.0.3", 1_000), "throttled");
  // Other sources keep the normal limit.
  assertEquals([limiter.check("127.0.0.1", 0), limiter.check("127.0.0.1", 1)], [
    "pass",
    "ban-starts",
  ]);
});

Deno.test("the exempt budget can be set", () => {
  const limiter = new RateLimiter({ limit: 1, exempt: ["10.0.0.1"], exemptLimit: 3 });
  const verdicts = [0, 1, 2, 3].map((t) => limiter.check("10.0.0.1", t));
  assertEquals(verdicts, ["pass", "pass", "pass", "throttle-starts"]);
  assertThrows(() => new RateLimiter({ limit: 1, exemptLimit: 0 }), RangeError);
});

Deno.test("the source table stays bounded under a spoofed flood from many addresses", () => {
  const limiter = new RateLimiter({ limit: 5, windowMs: 1_000, maxSources: 100 });
  let passed = 0;
  for (let i = 0; i < 10_000; i++) {
    if (limiter.check(`10.${i >> 16 & 255}.${i >> 8 & 255}.${i & 255}`, 0) === "pass") passed++;
  }
  assertEquals(limiter.tracked <= 101, true);
  // 100 addresses get an entry (1 datagram each), then everyone else shares one bucket of 5.
  assertEquals(passed, 100 + 5);
});

Deno.test("rate limiter refuses nonsense settings", () => {
  assertThrows(() => new RateLimiter({ limit: 0 }), RangeError);
});
