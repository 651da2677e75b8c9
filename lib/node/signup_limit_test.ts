import { deepStrictEqual as assertEquals, throws } from "#assert";
import { SignupLimit } from "./signup_limit.ts";

const MINUTE = 60_000;

Deno.test("a source may sign up perHour times in any hour; others are not affected", () => {
  let now = 0;
  const limit = new SignupLimit({ perHour: 3, now: () => now });
  for (let i = 0; i < 3; i++) {
    assertEquals(limit.allows("10.0.0.1"), true);
    limit.record("10.0.0.1");
    now += 10 * MINUTE;
  }
  assertEquals(limit.allows("10.0.0.1"), false); // 3 in the last 30 minutes
  assertEquals(limit.allows("10.0.0.2"), true);
  assertEquals(limit.refused, 1);
  // The window slides: an hour after the first sign-up, one more is allowed, and only one.
  now = 60 * MINUTE + 1;
  assertEquals(limit.allows("10.0.0.1"), true);
  limit.record("10.0.0.1");
  assertEquals(limit.allows("10.0.0.1"), false);
  now = 200 * MINUTE;
  assertEquals(limit.allows("10.0.0.1"), true);
});

Deno.test("the sign-up table stays bounded; 0 means no bound; nonsense is refused", () => {
  let now = 0;
  const limit = new SignupLimit({ perHour: 1, maxSources: 100, now: () => now++ });
  for (let i = 0; i < 1000; i++) limit.record(`10.0.${i >> 8}.${i & 255}`);
  // The oldest sources were forgotten, the newest are still bound.
  assertEquals(limit.allows("10.0.0.0"), true);
  assertEquals(limit.allows("10.0.3.231"), false);
  const free = new SignupLimit({ perHour: 0 });
  for (let i = 0; i < 100; i++) free.record("10.0.0.1");
  assertEquals(free.allows("10.0.0.1"), true);
  throws(() => new SignupLimit({ perHour: -1 }), RangeError);
  throws(() => new SignupLimit({ perHour: 1.5 }), RangeError);
});
