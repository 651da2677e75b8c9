/**
 * The state snapshot and the registration journal on real files, driven by
 * a manual clock: what a crash (the keeper dropped without closing) leaves
 * is restored at the next start; a torn journal tail is ignored, damage
 * refused; failed snapshots and journal writes are retried until they work.
 * Needs root for `chattr`.
 *
 * @module
 */

import { deepStrictEqual, ok, rejects, strictEqual } from "#assert";
import { ManualClock } from "../lib/clock.ts";
import type { Directory } from "../lib/node/directory.ts";
import { MemoryDirectory } from "../lib/node/memory_directory.ts";
import { StateError, StateKeeper } from "../lib/node/state.ts";
import { ScratchDir } from "./support/node_harness.ts";

const USERS = ["laura", "joan", "pere"];
const at = (port: number) => ({ ip: "10.0.0.7", port });

async function chattr(flag: "+i" | "-i", path: string): Promise<void> {
  const out = await new Deno.Command("chattr", { args: [flag, path], stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`chattr ${flag} ${path}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A keeper on `dir`'s state file, with its clock and what it reported. */
async function open(dir: ScratchDir, clock = new ManualClock()) {
  const directory = new MemoryDirectory(USERS);
  const reports: string[] = [];
  let wake: (() => void) | undefined;
  const report = (text: string) => {
    reports.push(text);
    wake?.();
  };
  const keeper = await StateKeeper.open({
    path: dir.file("nodelumi-bb.com.state"),
    directory,
    clock,
    intervalMs: 5_000,
    commitMs: 200,
    onError: (what) => report(`${what} failing`),
    onRecover: (what) => report(`${what} recovered`),
  });
  /** Wait until `text` has been reported (the clock is moved by the test). */
  const reported = async (text: string) => {
    while (!reports.includes(text)) await new Promise<void>((resolve) => (wake = resolve));
  };
  return { keeper, directory, clock, reports, reported };
}

/** Where each user is registered in `directory` (port), or null. */
function where(directory: Directory): Record<string, number | null> {
  return Object.fromEntries(USERS.map((n) => [n, directory.get(n)?.endpoint.port ?? null]));
}

/** Let the keeper's file operations run after the manual clock fired its timers. */
async function commitAfter(clock: ManualClock, ms: number, keeper: StateKeeper): Promise<void> {
  const before = keeper.journalStats.commits + keeper.journalStats.failedCommits;
  clock.advance(ms);
  const deadline = Date.now() + 5_000;
  while (keeper.journalStats.commits + keeper.journalStats.failedCommits === before) {
    if (Date.now() > deadline) throw new Error(`no journal commit ${ms} ms later`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

Deno.test("registrations journaled within the commit interval survive a crash, on top of the snapshot", async () => {
  await using dir = await ScratchDir.create("journal");
  {
    const { keeper, directory, clock } = await open(dir);
    directory.register("laura", at(1), 1);
    ok(await keeper.save(), "the snapshot is on disk");
    directory.register("joan", at(2), 2);
    directory.deregister("laura");
    directory.register("pere", at(3), 3);
    directory.heartbeat("pere", at(4), 4, false);
    await commitAfter(clock, 200, keeper);
    keeper.abandon(); // kill -9: nothing more is written
  }
  const state = JSON.parse(await dir.read("nodelumi-bb.com.state"));
  deepStrictEqual(state.online, [["laura", "10.0.0.7:1", 1]], "the snapshot is older");
  const { keeper, directory } = await open(dir);
  deepStrictEqual(where(directory), { laura: null, joan: 2, pere: 4 });
  strictEqual(keeper.restored, 2);
  deepStrictEqual(keeper.replayed.segments, 1);
  // A clean stop folds the journal into the snapshot and deletes it.
  await keeper.close();
  deepStrictEqual(await dir.files(), ["nodelumi-bb.com.state"]);
  const again = await open(dir);
  deepStrictEqual(where(again.directory), { laura: null, joan: 2, pere: 4 });
  strictEqual(again.keeper.replayed.segments, 0);
  again.keeper.abandon();
});

Deno.test("a journal whose last record was torn by a crash loses only that record; damage stops the start", async () => {
  await using dir = await ScratchDir.create("journal-torn");
  await dir.write(
    "nodelumi-bb.com.state.journal.3",
    '["r","laura","10.0.0.7:1",1]\n["r","joan","10.0.0.7:2",2]\n["r","pere","10.0',
  );
  await dir.write("nodelumi-bb.com.state.journal.7", '["d","laura"]\n');
  {
    const { keeper, directory } = await open(dir);
    deepStrictEqual(where(directory), { laura: null, joan: 2, pere: null });
    deepStrictEqual(keeper.replayed, { segments: 2, records: 3, tornChars: 17 });
    // Nothing is ever appended after a torn tail: the next changes go to a new segment.
    directory.register("pere", at(3), 3);
    await keeper.close();
    deepStrictEqual(await dir.files(), ["nodelumi-bb.com.state"]);
  }
  await dir.write("nodelumi-bb.com.state.journal.8", '["d","joan"]\nnot a record\n["d","pere"]\n');
  await rejects(open(dir), (error: Error) => {
    ok(error instanceof StateError);
    ok(/journal\.8 is damaged at byte 13; move it away/.test(error.message), error.message);
    return true;
  });
});

Deno.test("a snapshot that fails is retried at every interval until it works; the journal keeps the changes meanwhile", async () => {
  await using dir = await ScratchDir.create("journal-retry");
  const { keeper, directory, clock, reports, reported } = await open(dir);
  directory.register("laura", at(1), 1);
  ok(await keeper.save());
  const state = dir.file("nodelumi-bb.com.state");
  await chattr("+i", state);
  try {
    directory.register("joan", at(2), 2);
    await commitAfter(clock, 200, keeper);
    strictEqual(await keeper.save(), false, "the state file cannot be replaced");
    for (const port of [3, 4, 5]) {
      directory.register("pere", at(port), port);
      await commitAfter(clock, 200, keeper);
      strictEqual(await keeper.save(), false);
    }
    deepStrictEqual(reports, ["state failing"], "one report per outage");
    const segments = (await dir.files()).filter((f) => f.includes(".journal."));
    strictEqual(segments.length, 2, `one segment for the outage, not one per attempt: ${segments}`);
  } finally {
    await chattr("-i", state);
  }
  clock.advance(5_000);
  await reported("state recovered");
  ok(await keeper.save(), "the snapshot under way (and the one that folds the outage) worked");
  deepStrictEqual(JSON.parse(await dir.read("nodelumi-bb.com.state")).online, [
    ["laura", "10.0.0.7:1", 1],
    ["joan", "10.0.0.7:2", 2],
    ["pere", "10.0.0.7:5", 5],
  ]);
  deepStrictEqual(await dir.files(), ["nodelumi-bb.com.state"], "journal folded and deleted");
  keeper.abandon();
});

Deno.test("a journal write that fails is retried with the change, which then survives a crash", async () => {
  await using dir = await ScratchDir.create("journal-fault");
  const { keeper, directory, clock, reports, reported } = await open(dir);
  directory.register("laura", at(1), 1);
  await commitAfter(clock, 200, keeper);
  const segment = dir.file("nodelumi-bb.com.state.journal.1");
  await chattr("+i", segment);
  try {
    directory.register("joan", at(2), 2);
    await commitAfter(clock, 200, keeper);
    directory.register("pere", at(3), 3);
    await commitAfter(clock, 200, keeper);
    deepStrictEqual(reports, ["journal failing"]);
  } finally {
    await chattr("-i", segment);
  }
  // Retries back off: 200, 400, 800 ms … The next one works.
  for (let i = 0; i < 10 && !reports.includes("journal recovered"); i++) {
    await commitAfter(clock, 1_000, keeper);
  }
  await reported("journal recovered");
  keeper.abandon();
  const after = await open(dir);
  deepStrictEqual(where(after.directory), { laura: 1, joan: 2, pere: 3 });
  after.keeper.abandon();
});
