import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import { formatPlumi } from "../plumi/codec.ts";
import { param, params } from "../plumi/params.ts";
import { OnlineIndex, onlinePage } from "./online.ts";

/** A reproducible stream of numbers in [0, 1). */
function random(seed: number): () => number {
  return () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

Deno.test("the online index keeps names once, in order, and knows the longest", () => {
  const index = new OnlineIndex();
  for (const name of ["pere", "joan", "laura", "joan"]) index.add(name);
  assertEquals([index.size, index.longest], [3, 5]);
  assertEquals([...index.from(0)], ["joan", "laura", "pere"]);
  assertEquals([...index.from(2)], ["pere"]);
  assertEquals([...index.after("joan")], ["laura", "pere"]);
  assertEquals([...index.after("k")], ["laura", "pere"]);
  index.delete("laura");
  index.delete("laura");
  assertEquals([index.size, index.longest, index.has("laura")], [2, 4, false]);
});

Deno.test("pages by cursor list every name present throughout exactly once while others come and go", () => {
  const next = random(7);
  for (let round = 0; round < 20; round++) {
    const index = new OnlineIndex();
    const stable = Array.from({ length: 300 }, (_, i) => `s${i}${"y".repeat(i % 60)}`);
    const churn = Array.from({ length: 300 }, (_, i) => `c${i}${"z".repeat((i * 3) % 50)}`);
    for (const name of stable) index.add(name);
    const seen: string[] = [];
    let cursor: string | undefined = "";
    for (let pages = 0; cursor !== undefined; pages++) {
      assert(pages < 1000);
      const reply = onlinePage(index, [`c=${cursor}`]);
      assert(formatPlumi(reply).length <= 512);
      seen.push(...params(reply.params, "u"));
      cursor = param(reply.params, "c");
      for (let i = 0; i < 10; i++) {
        const name = churn[Math.floor(next() * churn.length)]!;
        if (index.has(name)) index.delete(name);
        else index.add(name);
      }
    }
    assertEquals(new Set(seen).size, seen.length);
    for (const name of stable) assert(seen.includes(name), name);
  }
});

Deno.test("pages by number hold the same number of names, fit 512 bytes, and cover a quiet index once", () => {
  const index = new OnlineIndex();
  const names = Array.from({ length: 1000 }, (_, i) => `u${i}`.padEnd(1 + (i % 64), "n"));
  for (const name of names) index.add(name);
  const first = onlinePage(index, []);
  const pages = Number(param(first.params, "p")!.split("/")[1]);
  const seen: string[] = [];
  for (let page = 1; page <= pages; page++) {
    const reply = onlinePage(index, [`p=${page}`]);
    assert(formatPlumi(reply).length <= 512, `page ${page}`);
    const entries = params(reply.params, "u");
    if (page < pages) assertEquals(entries.length, 7); // 64-byte names: 7 fit
    seen.push(...entries);
  }
  assertEquals(seen, names.toSorted());
  assertEquals(param(onlinePage(index, ["p=0"]).params, "p"), `1/${pages}`);
  assertEquals(param(onlinePage(index, ["p=99999"]).params, "p"), `${pages}/${pages}`);
  assertEquals(onlinePage(new OnlineIndex(), []).params, ["p=1/1"]);
  assertEquals(onlinePage(new OnlineIndex(), ["c="]).params, []);
});

Deno.test("the online index agrees with a sorted list through thousands of changes across its blocks", () => {
  const next = random(11);
  const index = new OnlineIndex();
  const reference = new Set<string>();
  for (let step = 0; step < 20_000; step++) {
    const name = `u${Math.floor(next() * 5_000)}`;
    if (next() < 0.6) {
      index.add(name);
      reference.add(name);
    } else {
      index.delete(name);
      reference.delete(name);
    }
    if (step % 2_000 === 0 || step === 19_999) {
      const sorted = [...reference].sort();
      assertEquals(index.size, sorted.length);
      assertEquals([...index.from(0)], sorted);
      const rank = Math.floor(next() * sorted.length);
      assertEquals([...index.from(rank)].slice(0, 3), sorted.slice(rank, rank + 3));
      assertEquals([...index.after(sorted[rank]!)].slice(0, 3), sorted.slice(rank + 1, rank + 4));
      assert(sorted.every((n) => index.has(n)));
    }
  }
});

Deno.test("walking the online index while names come and go yields each next name once, in order", () => {
  const index = new OnlineIndex();
  for (let i = 0; i < 3_000; i++) index.add(`n${String(i).padStart(4, "0")}`);
  const seen: string[] = [];
  for (const name of index.after("")) {
    seen.push(name);
    const i = Number(name.slice(1));
    if (i % 100 === 0) {
      index.delete(`n${String(i + 1).padStart(4, "0")}`); // ahead: never yielded
      index.delete(name); // behind: already yielded
      index.add(`n${String(i).padStart(4, "0")}x`); // just ahead: yielded next
    }
  }
  assertEquals(seen.length, 3_000);
  assert(seen.every((name, i) => i === 0 || seen[i - 1]! < name));
  assert(seen.includes("n0100x") && !seen.includes("n0101"));
});
