/**
 * The behaviour every {@linkcode Directory} must have, as tests: an
 * implementation's test file calls {@linkcode directoryContract} with a
 * factory (see `memory_directory_test.ts`). Written against the interface
 * only, so that another implementation (a clustered domain's) runs the very
 * same tests.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "#assert";
import type { Endpoint } from "../plumi/address.ts";
import { type Directory, Heard } from "./directory.ts";

/** Makes a fresh directory of `configured` users (in `nodelumi.cfg`) and `signedUp` ones. */
export type DirectoryFactory = (
  configured: string[],
  signedUp?: string[],
) => Directory | Promise<Directory>;

const at = (port: number, ip = "127.0.0.1"): Endpoint => ({ ip, port });

/** size, onlineCount and changes, in one value to compare. */
function counters(directory: Directory): [size: number, online: number, changes: number] {
  return [directory.size, directory.onlineCount, directory.changes];
}

/** Where and since when a user is registered, or its `null` / `undefined`. */
function where(directory: Directory, name: string) {
  const registration = directory.get(name);
  if (!registration) return registration;
  const { endpoint, since, lastSeen } = registration;
  return { endpoint, since, lastSeen };
}

/** Register the tests of the directory contract for the implementation `name`. */
export function directoryContract(name: string, make: DirectoryFactory): void {
  const test = (what: string, body: () => void | Promise<void>) =>
    Deno.test(`${name}: ${what}`, body);

  test("a new directory holds its users offline and counts no change", async () => {
    const directory = await make(["laura", "joan"], ["nuria"]);
    deepStrictEqual(counters(directory), [3, 0, 0]);
    strictEqual(directory.get("laura"), null);
    strictEqual(directory.get("marta"), undefined);
    deepStrictEqual([directory.has("joan"), directory.has("JOAN")], [true, false]);
    deepStrictEqual([...directory.names()], ["laura", "joan", "nuria"]);
    deepStrictEqual([...directory.online()], []);
  });

  test("users come from nodelumi.cfg or sign-up, and only the former are saved there", async () => {
    const directory = await make(["laura", "joan"], ["nuria", "laura"]);
    deepStrictEqual(directory.configuredNames(), ["laura", "joan"]);
    deepStrictEqual(
      ["laura", "joan", "nuria"].map((n) => directory.isSignedUp(n)),
      [true, false, true],
    );
    strictEqual(directory.add("pere", "signup"), true);
    strictEqual(directory.add("marta"), true);
    strictEqual(directory.add("pere"), false, "already a user: nothing changes");
    deepStrictEqual(directory.configuredNames(), ["laura", "joan", "marta"]);
    strictEqual(directory.isSignedUp("pere"), true);
    strictEqual(directory.isSignedUp("ghost"), false);
  });

  test("a reload adds and removes configured users, and keeps the signed-up ones", async () => {
    const directory = await make(["laura", "joan", "nuria"], ["nuria", "pere"]);
    directory.register("joan", at(4000), 1);
    deepStrictEqual(directory.setConfigured(["laura", "marta", "pere"]), {
      added: ["marta"],
      removed: ["joan"],
    });
    deepStrictEqual([...directory.names()].sort(), ["laura", "marta", "nuria", "pere"]);
    deepStrictEqual(directory.configuredNames().sort(), ["laura", "marta", "pere"]);
    deepStrictEqual([directory.onlineCount, directory.get("joan")], [0, undefined]);
    deepStrictEqual(directory.setConfigured(["laura", "marta", "pere"]), {
      added: [],
      removed: [],
    });
  });

  test("adding and removing users changes the count", async () => {
    const directory = await make(["laura"]);
    strictEqual(directory.add("joan"), true);
    deepStrictEqual(counters(directory), [2, 0, 1]);
    strictEqual(directory.add("joan"), false);
    deepStrictEqual(counters(directory), [2, 0, 1]);
    strictEqual(directory.remove("laura"), true);
    deepStrictEqual(counters(directory), [1, 0, 2]);
    strictEqual(directory.remove("laura"), false);
    deepStrictEqual([...directory.names()], ["joan"]);
    strictEqual(directory.add("laura"), true, "a removed user can be added again");
    strictEqual(directory.get("laura"), null);
  });

  test("register and deregister move a user online and offline", async () => {
    const directory = await make(["laura", "joan"]);
    const first = directory.register("laura", at(4000), 1_000);
    ok(first > 0);
    deepStrictEqual(counters(directory), [2, 1, 1]);
    deepStrictEqual(where(directory, "laura"), {
      endpoint: at(4000),
      since: 1_000,
      lastSeen: 1_000,
    });
    strictEqual(directory.get("laura")?.id, first);
    // Registering again (a new PR) replaces the registration: a new id.
    const second = directory.register("laura", at(4001), 2_000);
    ok(second > 0 && second !== first);
    deepStrictEqual(counters(directory), [2, 1, 2]);
    deepStrictEqual(where(directory, "laura"), {
      endpoint: at(4001),
      since: 2_000,
      lastSeen: 2_000,
    });
    strictEqual(directory.register("marta", at(4002), 2_000), 0, "no such user");
    deepStrictEqual(counters(directory), [2, 1, 2]);
    strictEqual(directory.deregister("laura"), true);
    deepStrictEqual(counters(directory), [2, 0, 3]);
    strictEqual(directory.get("laura"), null);
    strictEqual(directory.deregister("laura"), true, "already offline: still a user");
    deepStrictEqual(counters(directory), [2, 0, 3]);
    strictEqual(directory.deregister("marta"), false);
  });

  test("what get returns is a snapshot: the directory changes only through its methods", async () => {
    const directory = await make(["laura"]);
    directory.register("laura", at(4000), 1, { token: "t1", heartbeatMs: 30_000, busy: false });
    const before = directory.get("laura")!;
    directory.register("laura", at(4001), 2);
    deepStrictEqual([before.endpoint, before.since, before.session?.token], [at(4000), 1, "t1"]);
    deepStrictEqual(where(directory, "laura"), { endpoint: at(4001), since: 2, lastSeen: 2 });
    strictEqual(directory.get("laura")?.session, undefined, "an original PR has no session");
  });

  test("entries list every user in order, with its registration", async () => {
    const directory = await make(["b", "a"]);
    directory.add("c");
    directory.register("a", at(5000), 7);
    deepStrictEqual(
      [...directory.entries()].map((e) => [e.name, e.registration?.endpoint ?? null]),
      [["b", null], ["a", at(5000)], ["c", null]],
    );
    deepStrictEqual([...directory.online()].map(([n, r]) => [n, r.since]), [["a", 7]]);
  });

  test("removing an online user takes it offline", async () => {
    const directory = await make(["laura", "joan"]);
    directory.register("laura", at(4000), 0);
    directory.register("joan", at(4001), 0);
    strictEqual(directory.remove("laura"), true);
    deepStrictEqual([directory.size, directory.onlineCount], [1, 1]);
    deepStrictEqual([...directory.onlineIndex.from(0)], ["joan"]);
    strictEqual(directory.hasEndpoint(at(4000)), false);
  });

  test("the online index is in name order; the online users can be walked while others come and go", async () => {
    const directory = await make(["pere", "joan", "laura", "marta", "nuria"]);
    for (const name of ["pere", "joan", "laura", "nuria"]) directory.register(name, at(4000), 0);
    deepStrictEqual([...directory.onlineIndex.after("")], ["joan", "laura", "nuria", "pere"]);
    deepStrictEqual([directory.onlineIndex.size, directory.onlineIndex.longest], [4, 5]);
    const seen: string[] = [];
    let first = true;
    for (const [name] of directory.online()) {
      seen.push(name);
      if (first) {
        first = false;
        // Whoever came first, two others change: one leaves, one comes (they may or may not be seen).
        const [leaving] = ["laura", "nuria"].filter((n) => n !== name);
        directory.deregister(leaving!);
        directory.register("marta", at(4001), 1);
      }
    }
    strictEqual(new Set(seen).size, seen.length, "nobody twice");
    for (const name of ["pere", "joan"]) ok(seen.includes(name), `${name}, online throughout`);
  });

  test("a datagram from an address where users are registered is a sign of life of each", async () => {
    const directory = await make(["laura", "joan"]);
    directory.register("laura", at(4000), 0);
    directory.register("joan", at(4000), 0);
    strictEqual(directory.heard(at(4001), 5), Heard.Nobody);
    strictEqual(directory.heard(at(4000, "127.0.0.2"), 5), Heard.Nobody);
    strictEqual(directory.heard(at(4000), 5), Heard.Online);
    deepStrictEqual([directory.get("laura")?.heardAt, directory.get("joan")?.heardAt], [5, 5]);
    directory.deregister("laura");
    strictEqual(directory.hasEndpoint(at(4000)), true);
    directory.deregister("joan");
    strictEqual(directory.hasEndpoint(at(4000)), false);
    strictEqual(directory.heard(at(4000), 6), Heard.Nobody);
    directory.register("laura", at(4000), 7);
    strictEqual(directory.get("laura")?.heardAt, -Infinity, "an address new again was never heard");
  });

  test("a user that lapses is offline but remembered where it was, until it registers or leaves", async () => {
    const directory = await make(["laura", "joan"]);
    const id = directory.register("laura", at(4000), 0);
    strictEqual(directory.lapse("laura", id + 1), false, "not that registration: nothing happens");
    strictEqual(directory.lapse("joan"), false, "offline: nothing to lapse");
    const changes = directory.changes;
    strictEqual(directory.lapse("laura", id), true);
    ok(directory.changes > changes);
    deepStrictEqual([directory.get("laura"), directory.onlineCount], [null, 0]);
    strictEqual(directory.hasEndpoint(at(4000)), false);
    strictEqual(directory.heard(at(4000), 1), Heard.Lapsed);
    deepStrictEqual(directory.lapsedAt(at(4000)), ["laura"]);
    deepStrictEqual(directory.lapsedEndpoint("laura"), at(4000));
    // Registered again (anywhere): no longer lapsed.
    directory.register("laura", at(4001), 2);
    strictEqual(directory.lapsedEndpoint("laura"), undefined);
    strictEqual(directory.heard(at(4000), 3), Heard.Nobody);
    // Lapsed beside an online user: both bits.
    directory.register("joan", at(4001), 2);
    directory.lapse("laura");
    strictEqual(directory.heard(at(4001), 4), Heard.Online | Heard.Lapsed);
    // Offline for good, or gone: forgotten.
    directory.deregister("laura");
    strictEqual(directory.lapsedEndpoint("laura"), undefined);
    deepStrictEqual(directory.lapsedAt(at(4001)), []);
    directory.lapse("joan");
    directory.remove("joan");
    strictEqual(directory.heard(at(4001), 5), Heard.Nobody);
  });

  test("many users lapse at one address, and each can leave the list", async () => {
    const names = ["a", "b", "c", "d"];
    const directory = await make(names);
    for (const name of names) directory.register(name, at(4000), 0);
    for (const name of names) directory.lapse(name);
    deepStrictEqual(directory.lapsedAt(at(4000)).sort(), names);
    directory.register("b", at(4001), 1);
    directory.remove("d");
    directory.deregister("a");
    deepStrictEqual(directory.lapsedAt(at(4000)), ["c"]);
    directory.register("c", at(4000), 2);
    strictEqual(directory.heard(at(4000), 3), Heard.Online);
  });

  test("a heartbeat keeps a session alive, moves it, and says when it turned busy", async () => {
    const directory = await make(["laura", "joan"]);
    const session = { token: "t", heartbeatMs: 30_000, busy: false };
    const id = directory.register("laura", at(4000), 1_000, session);
    strictEqual(directory.heartbeat("joan", at(4000), 2_000, false), undefined, "offline");
    strictEqual(directory.heartbeat("marta", at(4000), 2_000, false), undefined, "no such user");
    deepStrictEqual(directory.heartbeat("laura", at(4000), 2_000, false), {
      moved: false,
      busyChanged: false,
    });
    deepStrictEqual(where(directory, "laura"), {
      endpoint: at(4000),
      since: 1_000,
      lastSeen: 2_000,
    });
    const stamp = directory.presenceStamp("laura");
    deepStrictEqual(directory.heartbeat("laura", at(4009), 3_000, true), {
      moved: true,
      busyChanged: true,
    });
    const read = directory.get("laura")!;
    deepStrictEqual(directory.heartbeat("laura", at(4009), 3_500, false)?.busyChanged, true);
    strictEqual(read.session?.busy, true, "what was read before stays as it was");
    directory.heartbeat("laura", at(4009), 3_500, true);
    const now = directory.get("laura")!;
    deepStrictEqual([now.id, now.endpoint, now.session?.busy], [id, at(4009), true]);
    ok(directory.presenceStamp("laura") > stamp, "busy is a presence change");
    strictEqual(directory.hasEndpoint(at(4000)), false);
    strictEqual(session.busy, false, "the caller's object is not the directory's");
  });

  test("registrations expire: sessions after missed heartbeats, originals only when asked", async () => {
    const directory = await make(["laura", "joan", "pere"]);
    directory.register("laura", at(4000), 0, { token: "t", heartbeatMs: 1_000, busy: false });
    directory.register("joan", at(4001), 0);
    directory.register("pere", at(4002), 0, { token: "u", heartbeatMs: 1_000, busy: false });
    directory.heartbeat("pere", at(4002), 2_500, false);
    deepStrictEqual(directory.expire(3_000, { heartbeats: 3, originalMs: 0 }), []);
    deepStrictEqual(directory.expire(3_001, { heartbeats: 3, originalMs: 0 }), ["laura"]);
    deepStrictEqual(directory.expire(3_001, { heartbeats: 3, originalMs: 5_000 }), []);
    deepStrictEqual(directory.expire(5_600, { heartbeats: 3, originalMs: 5_000 }).sort(), [
      "joan",
      "pere",
    ]);
    deepStrictEqual(directory.onlineCount, 0);
  });

  test("presence stamps move when a user goes online, offline or busy, or shares anew", async () => {
    const directory = await make(["laura", "joan"]);
    strictEqual(directory.presenceStamp("laura"), 0);
    directory.register("laura", at(4000), 0);
    const online = directory.presenceStamp("laura");
    ok(online > 0);
    directory.register("laura", at(4000), 1);
    strictEqual(
      directory.presenceStamp("laura"),
      online,
      "registering again is no presence change",
    );
    directory.deregister("laura");
    const offline = directory.presenceStamp("laura");
    ok(offline > online);
    directory.touchPresence("laura");
    ok(directory.presenceStamp("laura") > offline);
    strictEqual(directory.presenceStamp("joan"), 0);
    strictEqual(directory.presenceStamp("ghost"), 0);
  });

  test("the observer is told of every registration made, moved or ended, and nothing else", async () => {
    const directory = await make(["laura", "joan"]);
    const told: string[] = [];
    directory.observe((name) => told.push(name));
    directory.register("laura", at(4000), 1);
    directory.heartbeat("laura", at(4000), 2, false); // not moved
    directory.heartbeat("laura", at(4001), 3, false); // moved
    directory.deregister("laura");
    directory.deregister("joan"); // already offline: no change
    directory.register("joan", at(4000), 2);
    directory.lapse("joan");
    directory.register("joan", at(4000), 3);
    directory.remove("joan");
    directory.add("pere");
    directory.remove("pere"); // offline: no registration ended
    deepStrictEqual(told, ["laura", "laura", "laura", "joan", "joan", "joan", "joan"]);
  });
}
