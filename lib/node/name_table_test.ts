import { deepStrictEqual, strictEqual } from "#assert";
import { NameTable } from "./name_table.ts";

/** A reproducible stream of numbers in [0, 1). */
function random(seed: number): () => number {
  return () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

Deno.test("the name table finds what a Map finds through adds and deletes, as it grows", () => {
  const next = random(3);
  const names: (string | undefined)[] = [];
  const table = new NameTable(names);
  const reference = new Map<string, number>();
  const free: number[] = [];
  for (let step = 0; step < 50_000; step++) {
    const name = `n${Math.floor(next() * 3_000)}`;
    const slot = table.get(name);
    strictEqual(slot, reference.get(name) ?? -1);
    if (slot < 0 && next() < 0.6) {
      const fresh = free.pop() ?? names.length;
      names[fresh] = name;
      table.add(name, fresh);
      reference.set(name, fresh);
    } else if (slot >= 0) {
      strictEqual(table.delete(name), true);
      names[slot] = undefined;
      free.push(slot);
      reference.delete(name);
    }
    strictEqual(table.size, reference.size);
  }
  for (const [name, slot] of reference) strictEqual(table.get(name), slot);
  strictEqual(table.delete("absent"), false);
});

Deno.test("names that collide all stay findable when one of them leaves", () => {
  const names: (string | undefined)[] = Array.from({ length: 64 }, (_, i) => `user${i}`);
  const table = new NameTable(names, 64);
  names.forEach((name, slot) => table.add(name!, slot));
  for (let i = 0; i < 64; i += 2) {
    table.delete(names[i]!);
    names[i] = undefined;
  }
  deepStrictEqual(
    Array.from({ length: 64 }, (_, i) => table.get(`user${i}`)),
    Array.from({ length: 64 }, (_, i) => (i % 2 ? i : -1)),
  );
});
