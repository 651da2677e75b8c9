import { deepStrictEqual, strictEqual } from "#assert";
import { Directory, type Registration } from "./directory.ts";

const at = (port: number) => ({ ip: "127.0.0.1", port });

/** size, onlineCount and changes, in one value to compare. */
function counters(directory: Directory): [size: number, online: number, changes: number] {
  return [directory.size, directory.onlineCount, directory.changes];
}

Deno.test("a new directory holds its users offline and counts no change", () => {
  const directory = new Directory(["laura", "joan"]);
  deepStrictEqual(counters(directory), [2, 0, 0]);
  strictEqual(directory.get("laura"), null);
  strictEqual(directory.get("marta"), undefined);
  strictEqual(directory.has("joan"), true);
  strictEqual(directory.has("JOAN"), false);
  deepStrictEqual([...directory.names()], ["laura", "joan"]);
});

Deno.test("add and remove count users and changes", () => {
  const directory = new Directory(["laura"]);
  strictEqual(directory.add("joan"), true);
  deepStrictEqual(counters(directory), [2, 0, 1]);
  strictEqual(directory.add("joan"), false);
  deepStrictEqual(counters(directory), [2, 0, 1]);
  strictEqual(directory.remove("laura"), true);
  deepStrictEqual(counters(directory), [1, 0, 2]);
  strictEqual(directory.remove("laura"), false);
  deepStrictEqual(counters(directory), [1, 0, 2]);
  deepStrictEqual([...directory.names()], ["joan"]);
});

Deno.test("register and deregister count users online", () => {
  const directory = new Directory(["laura", "joan"]);
  strictEqual(directory.register("laura", at(4000), 1_000), true);
  deepStrictEqual(counters(directory), [2, 1, 1]);
  deepStrictEqual(brief(directory.get("laura")), {
    endpoint: at(4000),
    unanswered: 0,
    since: 1_000,
    lastSeen: 1_000,
  });

  // A new registration moves the user without counting it online twice.
  strictEqual(directory.register("laura", at(4001), 2_000), true);
  deepStrictEqual(counters(directory), [2, 1, 2]);
  deepStrictEqual(brief(directory.get("laura")), {
    endpoint: at(4001),
    unanswered: 0,
    since: 2_000,
    lastSeen: 2_000,
  });

  strictEqual(directory.register("marta", at(4002), 2_000), false);
  deepStrictEqual(counters(directory), [2, 1, 2]);

  strictEqual(directory.deregister("laura"), true);
  deepStrictEqual(counters(directory), [2, 0, 3]);
  strictEqual(directory.get("laura"), null);
  // Already offline: still a user (true), nothing changes.
  strictEqual(directory.deregister("laura"), true);
  deepStrictEqual(counters(directory), [2, 0, 3]);
  strictEqual(directory.deregister("marta"), false);
  deepStrictEqual(counters(directory), [2, 0, 3]);
});

Deno.test("a new registration resets the unanswered count", () => {
  const directory = new Directory(["laura"]);
  directory.register("laura", at(4000), 0);
  directory.get("laura")!.unanswered = 4;
  directory.register("laura", at(4000), 1);
  strictEqual(directory.get("laura")!.unanswered, 0);
});

Deno.test("removing an online user takes it off the online count", () => {
  const directory = new Directory(["laura", "joan"]);
  directory.register("laura", at(4000), 0);
  directory.register("joan", at(4001), 0);
  deepStrictEqual(counters(directory), [2, 2, 2]);
  directory.remove("laura");
  deepStrictEqual(counters(directory), [1, 1, 3]);
  deepStrictEqual(
    [...directory.entries()].map((e) => ({ ...e, registration: brief(e.registration) })),
    [{ name: "joan", registration: { endpoint: at(4001), unanswered: 0, since: 0, lastSeen: 0 } }],
  );
});

Deno.test("entries list every user with its state, in insertion order", () => {
  const directory = new Directory(["b", "a"]);
  directory.add("c");
  directory.register("a", at(5000), 7);
  deepStrictEqual(
    [...directory.entries()].map((e) => ({ ...e, registration: brief(e.registration) })),
    [
      { name: "b", registration: null },
      { name: "a", registration: { endpoint: at(5000), unanswered: 0, since: 7, lastSeen: 7 } },
      { name: "c", registration: null },
    ],
  );
});

Deno.test("a domain of 1,000,000 users loads and answers by name", () => {
  const names = Array.from({ length: 1_000_000 }, (_, i) => `user${i}`);
  const directory = new Directory(names);
  strictEqual(directory.size, 1_000_000);
  strictEqual(directory.register("user999999", at(6000), 0), true);
  strictEqual(directory.get("user999999")?.endpoint.port, 6000);
  strictEqual(directory.get("user1000000"), undefined);
});

/** The fields of a registration that say where and since when (not the liveness bookkeeping). */
function brief(registration: Registration | null | undefined) {
  if (!registration) return registration;
  const { endpoint, unanswered, since, lastSeen } = registration;
  return { endpoint, unanswered, since, lastSeen };
}

Deno.test("a datagram from a registered address is noted on the address, shared by its users", () => {
  const directory = new Directory(["laura", "joan"]);
  directory.register("laura", at(4000), 0);
  directory.register("joan", at(4000), 0);
  strictEqual(directory.heard(at(4001), 5), undefined);
  const state = directory.heard(at(4000), 5);
  strictEqual(state?.users, 2);
  strictEqual(directory.get("laura")!.at.heardAt, 5);
  strictEqual(directory.get("joan")!.at, state);
  directory.deregister("laura");
  strictEqual(directory.hasEndpoint(at(4000)), true);
  directory.deregister("joan");
  strictEqual(directory.hasEndpoint(at(4000)), false);
  strictEqual(directory.heard(at(4000), 6), undefined);
});

Deno.test("a lapsed user is offline but remembered at its address until it registers or leaves", () => {
  const directory = new Directory(["laura", "joan"]);
  directory.register("laura", at(4000), 0);
  strictEqual(directory.lapse("laura"), true);
  strictEqual(directory.get("laura"), null);
  strictEqual(directory.onlineCount, 0);
  strictEqual(directory.hasEndpoint(at(4000)), false);
  deepStrictEqual(directory.heard(at(4000), 1)?.lapsed, ["laura"]);
  deepStrictEqual(directory.lapsedEndpoint("laura"), at(4000));
  // Registering again (anywhere) forgets it; so does a PD, or removing the user.
  directory.register("laura", at(4001), 2);
  strictEqual(directory.lapsedEndpoint("laura"), undefined);
  strictEqual(directory.heard(at(4000), 3), undefined);
  directory.lapse("laura");
  directory.deregister("laura");
  strictEqual(directory.lapsedEndpoint("laura"), undefined);
  directory.register("joan", at(4002), 0);
  directory.lapse("joan");
  directory.remove("joan");
  strictEqual(directory.heard(at(4002), 4), undefined);
});
