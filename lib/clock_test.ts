import { deepStrictEqual, strictEqual } from "#assert";
import { every, ManualClock, systemClock, wallTime } from "./clock.ts";

Deno.test("every calls its function each interval on the clock until stopped", () => {
  const clock = new ManualClock();
  const calls: number[] = [];
  const repeating = every(clock, 1_000, () => void calls.push(clock.now()));
  clock.advance(999);
  deepStrictEqual(calls, []);
  clock.advance(2_001);
  deepStrictEqual(calls, [1_000, 2_000, 3_000]);
  repeating.stop();
  clock.advance(5_000);
  deepStrictEqual(calls, [1_000, 2_000, 3_000]);
  strictEqual(clock.pending, 0);
});

Deno.test("a call of every that throws does not stop the next ones", () => {
  const clock = new ManualClock();
  let calls = 0;
  const repeating = every(clock, 10, () => {
    calls++;
    throw new Error("a bug in one sweep");
  });
  for (let i = 0; i < 3; i++) {
    try {
      clock.advance(10);
    } catch {
      // The timer's exception reaches whoever runs the timers, as a real timer's would.
    }
  }
  strictEqual(calls, 3);
  repeating.stop();
});

Deno.test("a manual clock's wall time moves with its monotonic time", () => {
  const clock = new ManualClock(1_000_000);
  const wall = wallTime(clock);
  strictEqual(wall(), 1_000_000);
  clock.advance(2_500);
  strictEqual(wall(), 1_002_500);
  strictEqual(Math.abs(wallTime(systemClock)() - Date.now()) < 1_000, true);
});
