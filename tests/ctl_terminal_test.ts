/**
 * Issue 17, at a terminal: `ctl passwd <user>` asks twice, hidden; the
 * interactive console edits lines, keeps a history and asks before `del`.
 * Real processes on a pseudo-terminal (util-linux `script`).
 *
 * @module
 */

import { match, ok, strictEqual } from "#assert";
import { ScratchDir } from "./support/node_harness.ts";
import { PtyProgram } from "./support/pty.ts";
import { ServiceNode } from "./support/service.ts";

const ESC = "\x1b";

Deno.test("ctl passwd on a terminal asks twice without echoing; two different answers change nothing", async () => {
  await using dir = await ScratchDir.create("ctl-pty", {
    "nodelumi.cfg":
      "domain = bb.com\nlisten = 127.0.26.50:0\nstate = off\nlog = off\n[users]\nmarta\n",
  });
  await using node = await ServiceNode.start(dir.path);
  {
    await using ctl = await PtyProgram.start("node", ["ctl", "passwd", "marta"], { cwd: dir.path });
    let at = await ctl.waitFor(/New password for marta: /);
    await ctl.type("s3cret word\r");
    at = await ctl.waitFor(/Again: /, { from: at });
    await ctl.type("s3cret word\r");
    await ctl.waitFor(/Password set for marta@bb\.com \(saved\)/, { from: at });
    strictEqual(await ctl.exited(), 0);
    ok(!ctl.text.includes("s3cret"), `the password is not shown: ${ctl.text}`);
  }
  {
    await using ctl = await PtyProgram.start("node", ["ctl", "passwd", "marta"], { cwd: dir.path });
    await ctl.waitFor(/New password for marta: /);
    await ctl.type("one\r");
    await ctl.waitFor(/Again: /);
    await ctl.type("two\r");
    await ctl.waitFor(/The two passwords differ: nothing changed\./);
    strictEqual(await ctl.exited(), 1);
  }
  {
    await using ctl = await PtyProgram.start("node", ["ctl", "del", "marta"], { cwd: dir.path });
    await ctl.waitFor(/Remove marta with their passwords and buddies\? \[y\/N\] /);
    await ctl.type("\r");
    await ctl.waitFor(/Not removed\./);
    strictEqual(await ctl.exited(), 1);
  }
  const listed = await node.json<{ users: { password: boolean }[] }>("list");
  strictEqual(listed.users[0]?.password, true, "the first password stands");
});

Deno.test("the console on a terminal edits lines, recalls history and asks before del", async () => {
  await using dir = await ScratchDir.create("console-pty", {
    "nodelumi.cfg": "bb.com laura\n",
  });
  await using node = await PtyProgram.start(
    "node",
    ["--listen", "127.0.26.51:0", "--no-state", "--no-log", "--no-database"],
    { cwd: dir.path },
  );
  let at = await node.waitFor(/lumi> /);
  await node.type("add marta\r");
  at = await node.waitFor(/Added marta@bb\.com \(saved\)/, { from: at });
  // Up arrow: the last line again.
  await node.type(`${ESC}[A\r`);
  at = await node.waitFor(/marta is already a user/, { from: at });
  // Typed "ist", then Home, then "l": "list".
  await node.type(`ist${ESC}[Hl\r`);
  at = await node.waitFor(/2 users, 0 online/, { from: at });
  await node.type("del marta\r");
  at = await node.waitFor(/Remove marta with their passwords and buddies\? \[y\/N\] /, {
    from: at,
  });
  await node.type("n\r");
  at = await node.waitFor(/Not removed\./, { from: at });
  await node.type("del marta\r");
  at = await node.waitFor(/\[y\/N\] /, { from: at });
  await node.type("y\r");
  at = await node.waitFor(/Removed marta@bb\.com \(saved\)/, { from: at });
  await node.type("exit\r");
  await node.waitFor(/LUMI node bb\.com stopped/, { from: at });
  strictEqual(await node.exited(), 0);
  match(await dir.read("nodelumi.cfg"), /^bb\.com\nlaura\n$/);
});

Deno.test("Ctrl-C at the console's terminal stops the node cleanly", async () => {
  await using dir = await ScratchDir.create("console-ctrlc", { "nodelumi.cfg": "bb.com laura\n" });
  await using node = await PtyProgram.start(
    "node",
    ["--listen", "127.0.26.52:0", "--no-state", "--no-log", "--no-database"],
    { cwd: dir.path },
  );
  const at = await node.waitFor(/lumi> /);
  await node.type("lis\x03");
  await node.waitFor(/LUMI node bb\.com stopped/, { from: at });
  strictEqual(await node.exited(), 0);
});
