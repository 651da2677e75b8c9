import assert from "#assert";
import { tick } from "../_testing.ts";
import { BoundedOutput, droppedMarker } from "./output.ts";

/** An output whose reader is stuck until `release` is called. */
function stuckOutput() {
  const written: string[] = [];
  let release: () => void = () => {};
  let gate = new Promise<void>((resolve) => (release = resolve));
  return {
    written,
    release: () => release(),
    block: () => (gate = new Promise<void>((resolve) => (release = resolve))),
    write: async (bytes: Uint8Array) => {
      await gate;
      written.push(new TextDecoder().decode(bytes));
      return bytes.length;
    },
  };
}

Deno.test("output nobody reads never blocks the writer; past the bound lines are dropped with one marker", async () => {
  const sink = stuckOutput();
  const out = new BoundedOutput({ write: sink.write, maxQueuedBytes: 100 });
  for (let i = 0; i < 1_000; i++) out.write(`line ${String(i).padStart(3, "0")}\n`); // 9 bytes each
  assert.equal(out.queuedBytes, 99); // 11 lines, the 12th did not fit
  assert.equal(out.dropped, 989);
  sink.release();
  await out.flush(1_000);
  out.write("after\n");
  await out.flush(1_000);
  const text = sink.written.join("");
  assert.ok(text.startsWith("line 000\nline 001\n"));
  assert.ok(text.endsWith(`line 010\n${droppedMarker(989)}after\n`), text);
  assert.equal(text.split(droppedMarker(989)).length, 2);
  assert.equal(out.dropped, 0);
});

Deno.test("output that fails (a closed pipe) is given up quietly", async () => {
  const out = new BoundedOutput({
    write: () => Promise.reject(new Error("broken pipe")),
  });
  out.write("one\n");
  await out.flush(1_000);
  out.write("two\n");
  await tick();
  assert.equal(out.queuedBytes, 0);
});

Deno.test("flush gives up after its timeout when the output is stuck", async () => {
  const sink = stuckOutput();
  const out = new BoundedOutput({ write: sink.write });
  out.write("stuck\n");
  const started = performance.now();
  await out.flush(50);
  assert.ok(performance.now() - started < 1_000);
  sink.release();
  await out.flush(1_000);
  assert.deepEqual(sink.written, ["stuck\n"]);
});
