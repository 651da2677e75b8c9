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

Deno.test("exempt addresses are never limited", () => {
  const limiter = new RateLimiter({ limit: 1, exempt: ["127.0.0.3"] });
  for (let i = 0; i < 100; i++) assertEquals(limiter.check("127.0.0.3", 0), "pass");
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
