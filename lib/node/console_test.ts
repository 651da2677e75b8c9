import { deepStrictEqual, strictEqual } from "#assert";
import { NAME_RULE } from "../plumi/address.ts";
import { AdminConsole, type ConsoleTarget, runConsole } from "./console.ts";
import { MemoryDirectory } from "./memory_directory.ts";
import type { NodeStats } from "./server.ts";

function stats(): NodeStats {
  return {
    received: 3,
    sent: 2,
    forwarded: 0,
    sendFailures: 0,
    malformed: {},
    dropped: {},
    bans: 0,
  };
}

/** A console on bb.com whose saves land in `saved` (or fail with `failWith`). */
function setup(users = ["laura", "joan"], signedUp: string[] = []) {
  const directory = new MemoryDirectory(users, signedUp);
  const saved: string[][] = [];
  let failWith: Error | undefined;
  const target: ConsoleTarget = {
    domain: "bb.com",
    directory,
    stats: stats(),
    save(list) {
      if (failWith) return Promise.reject(failWith);
      saved.push([...list]);
      return Promise.resolve();
    },
  };
  return {
    directory,
    saved,
    admin: new AdminConsole(target),
    target,
    failSaves(error: Error) {
      failWith = error;
    },
  };
}

Deno.test("list shows every user with its LUMI address and state", async () => {
  const { admin, directory } = setup();
  directory.register("joan", { ip: "127.0.0.1", port: 5000 }, 0);
  deepStrictEqual(await admin.execute("list"), {
    output: [
      `  ${"laura@bb.com".padEnd(32)} offline`,
      `  ${"joan@bb.com".padEnd(32)} online  127.0.0.1:5000`,
      "2 users, 1 online",
    ].join("\n"),
    exit: false,
  });
  deepStrictEqual(await admin.execute("  ONLINE  "), {
    output: `  ${"joan@bb.com".padEnd(32)} online  127.0.0.1:5000\n2 users, 1 online`,
    exit: false,
  });
});

Deno.test("add saves the new list before saying so", async () => {
  const { admin, directory, saved } = setup();
  deepStrictEqual(await admin.execute("add marta"), {
    output: "Added marta@bb.com (saved)",
    exit: false,
  });
  deepStrictEqual(saved, [["laura", "joan", "marta"]]);
  strictEqual(directory.has("marta"), true);
});

Deno.test("add and del save only the users of nodelumi.cfg: signed-up ones never go into it", async () => {
  const { admin, directory, saved } = setup(["laura", "joan"], ["nuria"]);
  strictEqual((await admin.execute("add marta")).output, "Added marta@bb.com (saved)");
  strictEqual((await admin.execute("add nuria")).output, "nuria is already a user");
  strictEqual((await admin.execute("del joan")).output, "Removed joan@bb.com (saved)");
  deepStrictEqual(saved, [["laura", "joan", "marta"], ["laura", "marta"]]);
  deepStrictEqual([...directory.names()], ["laura", "nuria", "marta"]);
});

Deno.test("add takes several names, with or without @domain, and reports the rest", async () => {
  const { admin, saved } = setup();
  const { output } = await admin.execute("add pere@BB.COM laura bad:name anna");
  strictEqual(
    output,
    [
      "laura is already a user",
      `"bad:name" is not a valid user name (${NAME_RULE})`,
      "Added pere@bb.com, anna@bb.com (saved)",
    ].join("\n"),
  );
  deepStrictEqual(saved, [["laura", "joan", "pere", "anna"]]);
});

Deno.test("add with nothing new saves nothing", async () => {
  const { admin, saved } = setup();
  strictEqual((await admin.execute("add laura")).output, "laura is already a user");
  strictEqual(
    (await admin.execute("add x@cc.com")).output,
    `"x@cc.com" is not a valid user name (${NAME_RULE})`,
  );
  strictEqual((await admin.execute("add")).output, "Usage: add <user>...");
  deepStrictEqual(saved, []);
});

Deno.test("del removes users and saves; rm, remove and delete are the same", async () => {
  const { admin, directory, saved } = setup(["laura", "joan", "pere", "anna"]);
  directory.register("laura", { ip: "127.0.0.1", port: 5000 }, 0);
  strictEqual((await admin.execute("del laura")).output, "Removed laura@bb.com (saved)");
  strictEqual((await admin.execute("rm joan@bb.com")).output, "Removed joan@bb.com (saved)");
  strictEqual(
    (await admin.execute("remove pere marta")).output,
    "marta is not a user\nRemoved pere@bb.com (saved)",
  );
  strictEqual((await admin.execute("delete anna")).output, "Removed anna@bb.com (saved)");
  strictEqual((await admin.execute("del anna")).output, "anna is not a user");
  strictEqual((await admin.execute("del")).output, "Usage: del <user>...");
  deepStrictEqual(saved, [["joan", "pere", "anna"], ["pere", "anna"], ["anna"], []]);
  deepStrictEqual([directory.size, directory.onlineCount], [0, 0]);
});

Deno.test("a failed save leaves the user list unchanged", async () => {
  const { admin, directory, saved, failSaves } = setup();
  directory.register("laura", { ip: "127.0.0.1", port: 5000 }, 0);
  failSaves(new Error("disk full"));
  deepStrictEqual(await admin.execute("add marta"), {
    output: "Not saved, nothing changed: disk full",
    exit: false,
  });
  deepStrictEqual(await admin.execute("del laura joan"), {
    output: "Not saved, nothing changed: disk full",
    exit: false,
  });
  deepStrictEqual(saved, []);
  deepStrictEqual([...directory.names()], ["laura", "joan"]);
  deepStrictEqual(directory.get("laura")?.endpoint, { ip: "127.0.0.1", port: 5000 });
  deepStrictEqual([directory.size, directory.onlineCount], [2, 1]);
});

Deno.test("help lists the commands; an unknown command says so; empty lines say nothing", async () => {
  const { admin } = setup();
  const help = (await admin.execute("help")).output;
  for (const command of ["list", "online", "add <user>", "del <user>", "stats", "help", "exit"]) {
    strictEqual(help.includes(`\n  ${command}`), true, `help mentions ${command}`);
  }
  strictEqual((await admin.execute("?")).output, help);
  deepStrictEqual(await admin.execute("frobnicate now"), {
    output: `Unknown command "frobnicate". Type "help" for the list.`,
    exit: false,
  });
  deepStrictEqual(await admin.execute("   "), { output: "", exit: false });
});

Deno.test("stats --json prints the counters as JSON", async () => {
  const { admin } = setup();
  deepStrictEqual(JSON.parse((await admin.execute("stats --json")).output), stats());
});

Deno.test("exit and quit stop the node", async () => {
  const { admin } = setup();
  deepStrictEqual(await admin.execute("exit"), { output: "Stopping the node.", exit: true });
  deepStrictEqual(await admin.execute("QUIT"), { output: "Stopping the node.", exit: true });
});

Deno.test("colours are used only when asked for", async () => {
  const { target } = setup();
  const colored = new AdminConsole(target, true);
  strictEqual(
    (await colored.execute("add marta")).output,
    "\x1b[32mAdded marta@bb.com (saved)\x1b[0m",
  );
  strictEqual(
    (await colored.execute("list")).output.split("\n")[0],
    `  ${"laura@bb.com".padEnd(32)} \x1b[90moffline\x1b[0m`,
  );
});

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return ReadableStream.from(chunks.map((chunk) => encoder.encode(chunk)));
}

Deno.test("runConsole runs piped commands split anywhere, and ends at exit", async () => {
  const { target, saved } = setup();
  let out = "";
  const end = await runConsole(target, {
    input: streamOf("ad", "d marta\nli", "st\n", "exit\nadd never\n"),
    write: (text) => out += text,
  });
  strictEqual(end, "exit");
  strictEqual(
    out,
    [
      "Added marta@bb.com (saved)",
      `  ${"laura@bb.com".padEnd(32)} offline`,
      `  ${"joan@bb.com".padEnd(32)} offline`,
      `  ${"marta@bb.com".padEnd(32)} offline`,
      "3 users, 0 online",
      "Stopping the node.",
      "",
    ].join("\n"),
  );
  deepStrictEqual(saved, [["laura", "joan", "marta"]]);
});

Deno.test("runConsole runs a last line without newline and reports the end of input", async () => {
  const { target, saved } = setup();
  let out = "";
  strictEqual(
    await runConsole(target, { input: streamOf("add marta\r\ndel joan"), write: (t) => out += t }),
    "eof",
  );
  strictEqual(out, "Added marta@bb.com (saved)\nRemoved joan@bb.com (saved)\n");
  deepStrictEqual(saved, [["laura", "joan", "marta"], ["laura", "marta"]]);
});

Deno.test("runConsole shows a prompt before each command when asked", async () => {
  const { target } = setup();
  let out = "";
  await runConsole(target, { input: streamOf("\nexit\n"), write: (t) => out += t, prompt: true });
  strictEqual(out, "lumi> lumi> Stopping the node.\n");
});

Deno.test("runConsole stops reading when its signal aborts", async () => {
  const { target } = setup();
  const stop = new AbortController();
  let out = "";
  // An input that never ends, as a terminal nobody types into.
  const input = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("help\n"));
    },
  });
  const write = (text: string) => {
    out += text;
    if (text.startsWith("Commands:")) stop.abort();
  };
  strictEqual(await runConsole(target, { input, write, signal: stop.signal }), "eof");
  strictEqual(out.split("\n")[0], "Commands:");
});

Deno.test("add refuses names the configuration could not hold: [x], a=b, #x", async () => {
  const { admin, saved, directory } = setup();
  strictEqual(
    (await admin.execute("add [x] a=b #x")).output,
    ["[x]", "a=b", "#x"].map((n) => `"${n}" is not a valid user name (${NAME_RULE})`).join("\n"),
  );
  deepStrictEqual(saved, []);
  deepStrictEqual([...directory.names()], ["laura", "joan"]);
});

Deno.test("add refuses the probes' name: .lumi-probe is never a user", async () => {
  const { admin, saved, directory } = setup();
  strictEqual(
    (await admin.execute("add .lumi-probe")).output,
    `".lumi-probe" is reserved for the node's probes`,
  );
  deepStrictEqual(saved, []);
  deepStrictEqual([...directory.names()], ["laura", "joan"]);
});

/** Accounts whose every change fails as a locked database does. */
function failingAccounts(message: string) {
  const fail = () => {
    throw new Error(message);
  };
  return {
    setPassword: () => Promise.reject(new Error(message)),
    clearPassword: fail,
    forget: fail,
    isProtected: () => true,
    isSignedUp: () => false,
    buddiesOf: fail,
  };
}

Deno.test("a command whose account database fails says why, and the console goes on", async () => {
  const { target, saved, directory } = setup();
  const broken: ConsoleTarget = { ...target, accounts: failingAccounts("database is locked") };
  let out = "";
  const end = await runConsole(broken, {
    input: streamOf("nopasswd laura\nbuddies laura\ndel joan\npasswd joan pw\nlist\n"),
    write: (text) => out += text,
  });
  strictEqual(end, "eof");
  strictEqual(
    out,
    [
      "Not done: database is locked",
      "Not done: database is locked",
      "Not removed, nothing changed: database is locked",
      "Not saved: database is locked",
      `  ${"laura@bb.com".padEnd(32)} offline  [password]`,
      `  ${"joan@bb.com".padEnd(32)} offline  [password]`,
      "2 users, 0 online",
      "",
    ].join("\n"),
  );
  deepStrictEqual(saved, [], "nothing saved: the user keeps its password, so it stays a user");
  strictEqual(directory.has("joan"), true);
});

Deno.test("reload takes in the file's user list; signed-up users stay; a bad file changes nothing", async () => {
  const { target, directory } = setup(["laura", "joan"], ["nuria"]);
  directory.register("joan", { ip: "127.0.0.1", port: 5000 }, 0);
  let file: { users: string[]; note?: string } | Error = { users: ["laura", "pere"] };
  const accounts = { ...failingAccounts("unused"), isSignedUp: (n: string) => n === "nuria" };
  const admin = new AdminConsole({
    ...target,
    accounts,
    reload: () => file instanceof Error ? Promise.reject(file) : Promise.resolve(file),
  });
  strictEqual(
    (await admin.execute("reload")).output,
    "Reloaded: 3 users; added pere@bb.com; removed joan@bb.com",
  );
  deepStrictEqual([...directory.names()].sort(), ["laura", "nuria", "pere"]);
  strictEqual(directory.onlineCount, 0, "a removed user is offline");
  file = {
    users: ["laura", "pere"],
    note: "Settings other than the users take effect at the next start.",
  };
  strictEqual(
    (await admin.execute("reload")).output,
    "Reloaded: 3 users; no change to the user list\n" +
      "Settings other than the users take effect at the next start.",
  );
  file = new Error(`nodelumi.cfg: line 2: "a=" is wrong`);
  strictEqual(
    (await admin.execute("reload")).output,
    `Not done: nodelumi.cfg: line 2: "a=" is wrong`,
  );
  deepStrictEqual([...directory.names()].sort(), ["laura", "nuria", "pere"]);
});

Deno.test("stats adds the account database's counters when there are some", async () => {
  const { target } = setup();
  const admin = new AdminConsole({ ...target, moreStats: () => ({ storeFailures: 3 }) });
  deepStrictEqual(JSON.parse((await admin.execute("stats --json")).output), {
    ...stats(),
    storeFailures: 3,
  });
});

Deno.test("del checks the file is unchanged before it deletes a password: a hand edit leaves all as it was", async () => {
  const { target, directory } = setup();
  let forgotten = 0;
  const accounts = {
    ...failingAccounts("unused"),
    forget: () => void forgotten++,
  };
  const admin = new AdminConsole({
    ...target,
    accounts,
    verify: () => Promise.reject(new Error("nodelumi.cfg was changed on disk")),
  });
  strictEqual(
    (await admin.execute("del joan")).output,
    "Not saved, nothing changed: nodelumi.cfg was changed on disk",
  );
  strictEqual(forgotten, 0);
  strictEqual(directory.has("joan"), true);
});
