import { deepStrictEqual, strictEqual } from "#assert";
import { AddressTable, packIpv4 } from "./address_table.ts";
import { directoryContract } from "./directory_contract.ts";
import { MemoryDirectory } from "./memory_directory.ts";

directoryContract(
  "MemoryDirectory",
  (configured, signedUp) => new MemoryDirectory(configured, signedUp),
);

Deno.test("a domain of 1,000,000 users loads and answers by name", () => {
  const names = Array.from({ length: 1_000_000 }, (_, i) => `user${i}`);
  const directory = new MemoryDirectory(names);
  strictEqual(directory.size, 1_000_000);
  strictEqual(directory.register("user999999", { ip: "10.1.2.3", port: 6000 }, 0) > 0, true);
  deepStrictEqual(directory.get("user999999")?.endpoint, { ip: "10.1.2.3", port: 6000 });
  strictEqual(directory.get("user1000000"), undefined);
});

Deno.test("a removed user's slot is used again, and holds nothing of the old user", () => {
  const directory = new MemoryDirectory(["laura", "joan"]);
  directory.register("laura", { ip: "10.0.0.1", port: 1 }, 5, {
    token: "t",
    heartbeatMs: 1_000,
    busy: true,
  });
  directory.touchPresence("laura");
  directory.remove("laura");
  directory.add("marta");
  deepStrictEqual([directory.get("marta"), directory.presenceStamp("marta")], [null, 0]);
  directory.register("marta", { ip: "10.0.0.2", port: 2 }, 6);
  strictEqual(directory.get("marta")?.session, undefined);
  deepStrictEqual([...directory.names()], ["joan", "marta"]);
});

Deno.test("IPv4 addresses pack into numbers and back; any other text is kept as it is", () => {
  deepStrictEqual(
    ["0.0.0.0", "255.255.255.255", "10.0.0.1", "1.2.3.4"].map(packIpv4),
    [0, 2 ** 32 - 1, 167_772_161, 16_909_060],
  );
  deepStrictEqual(
    ["01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "::1", "", "1.2.3.4 "].map(packIpv4),
    [-1, -1, -1, -1, -1, -1, -1, -1],
  );
  const table = new AddressTable();
  const texts = [{ ip: "::1", port: 5 }, { ip: "01.2.3.4", port: 6 }, { ip: "9.8.7.6", port: 7 }];
  const slots = texts.map((e) => table.acquire(e));
  deepStrictEqual(slots.map((s) => table.endpoint(s)), texts);
  deepStrictEqual(texts.map((e) => table.find(e)), slots);
  strictEqual(table.find({ ip: "::1", port: 6 }), -1);
  for (const slot of slots) table.release(slot);
  deepStrictEqual([table.size, table.find(texts[0]!)], [0, -1]);
});

Deno.test("address slots are freed when the last user leaves, and used again", () => {
  const table = new AddressTable();
  const a = table.acquire({ ip: "10.0.0.1", port: 1 });
  strictEqual(table.acquire({ ip: "10.0.0.1", port: 1 }), a);
  table.release(a);
  strictEqual(table.size, 1);
  table.release(a);
  strictEqual(table.size, 0);
  strictEqual(table.acquire({ ip: "10.0.0.2", port: 2 }), a);
  for (let i = 0; i < 1_000; i++) table.acquire({ ip: "10.0.1.1", port: i + 1 });
  strictEqual(table.size, 1_001);
});

Deno.test("the address table finds what a Map finds through thousands of comings and goings", () => {
  let seed = 5;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const table = new AddressTable();
  const users = new Map<string, { slot: number; count: number }>();
  for (let step = 0; step < 30_000; step++) {
    const endpoint = {
      ip: `10.0.${Math.floor(next() * 8)}.${Math.floor(next() * 256)}`,
      port: 4000,
    };
    const key = `${endpoint.ip}:${endpoint.port}`;
    const known = users.get(key);
    strictEqual(table.find(endpoint), known?.slot ?? -1, key);
    if (!known || next() < 0.5) {
      const slot = table.acquire(endpoint);
      if (known) strictEqual(slot, known.slot);
      users.set(key, { slot, count: (known?.count ?? 0) + 1 });
    } else {
      table.release(known.slot);
      if (--known.count === 0) users.delete(key);
    }
    strictEqual(table.size, users.size);
  }
  for (const [key, { slot }] of users) strictEqual(`${table.endpoint(slot).ip}:4000`, key);
});
