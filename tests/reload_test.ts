/**
 * Issue 17, reload and rotation: SIGHUP (or `ctl reload`) reopens the logs
 * and re-reads the configuration, and every registration survives; the
 * packet log rotates by size; the operational log tells start, reload,
 * ban and stop. Real node processes with stdin closed, real files, UDP on
 * 127.0.26.x.
 *
 * @module
 */

import { deepStrictEqual, match, ok, strictEqual } from "#assert";
import { LOG_CLOSE_MARKER, LOG_OPEN_MARKER } from "../lib/packet_log.ts";
import { ScratchDir } from "./support/node_harness.ts";
import { ServiceNode } from "./support/service.ts";
import { UdpPeer } from "./support/udp_peer.ts";

interface Listed {
  users: { address: string; online: boolean; at?: string }[];
}

/** Wait until `check` holds, reading files as they grow; bounded by `timeoutMs`. */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not in ${timeoutMs} ms`);
    // Files have no change event to wait on here: poll, bounded.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("SIGHUP after mv of the packet log gives a fresh log and keeps every registration", async () => {
  await using dir = await ScratchDir.create("sighup-mv", {
    "nodelumi.cfg": "domain = bb.com\nlisten = 127.0.26.10:0\n[users]\nlaura\njoan\n",
  });
  await using node = await ServiceNode.start(dir.path, ["--no-database"]);
  await using laura = UdpPeer.open("laura", "127.0.26.11");
  await using joan = UdpPeer.open("joan", "127.0.26.12");
  strictEqual((await laura.request("PRlaura@bb.com", node.at)).text, "RR0");
  strictEqual((await joan.request("PRjoan@bb.com", node.at)).text, "RR0");
  const log = dir.file("nodelumi-bb.com.log");
  await until(
    "the first lines are written",
    async () => (await Deno.readTextFile(log)).includes("PRjoan@bb.com"),
  );
  // What logrotate does: move the file away, then SIGHUP.
  await Deno.rename(log, `${log}.1`);
  const from = node.child.lines.length;
  node.child.kill("SIGHUP");
  await node.line(/^SIGHUP: Reloaded: 2 users; no change to the user list$/, from);
  await node.line(/^Logs reopened\.$/, from);
  await laura.send("PLlaura@bb.com:joan@bb.com", node.at);
  strictEqual(
    (await joan.receive()).text,
    "PLlaura@bb.com:joan@bb.com",
    "joan's registration survived the reload: the look-up reaches her",
  );
  await until(
    "the fresh log has the new lines",
    async () =>
      (await Deno.readTextFile(log).catch(() => "")).includes("PLlaura@bb.com:joan@bb.com"),
  );
  const old = (await Deno.readTextFile(`${log}.1`)).trimEnd().split("\n");
  strictEqual(old[0], LOG_OPEN_MARKER);
  strictEqual(old.at(-1), LOG_CLOSE_MARKER, "the moved log was closed properly");
  ok(old.some((l) => l.includes("PRjoan@bb.com")));
  const fresh = (await Deno.readTextFile(log)).split("\n");
  strictEqual(fresh[0], LOG_OPEN_MARKER);
  ok(!fresh.some((l) => l.includes("PRjoan@bb.com")), "the old lines stay in the old file");
  const listed = await node.json<Listed>("list");
  deepStrictEqual(listed.users.map((u) => [u.address, u.online]), [
    ["laura@bb.com", true],
    ["joan@bb.com", true],
  ]);
  strictEqual((await node.child.stop()).code, 0);
});

Deno.test("size rotation keeps the number of files asked, each a whole log", async () => {
  await using dir = await ScratchDir.create("rotate", {
    "nodelumi.cfg":
      "domain = bb.com\nlisten = 127.0.26.13:0\n[limits]\nrate-limit = 0\n[log]\nmax-size = 4k\nkeep = 2\n[users]\nlaura\n",
  });
  await using node = await ServiceNode.start(dir.path, ["--no-database", "--no-state"]);
  await using laura = UdpPeer.open("laura", "127.0.26.14");
  strictEqual((await laura.request("PRlaura@bb.com", node.at)).text, "RR0");
  // About 120 bytes of log a look-up (request and answer): a burst of 60 fills more than 4 KiB.
  // Each burst is waited for until written (and rotated), so each makes a file; six make six.
  const log = dir.file("nodelumi-bb.com.log");
  const read = (path: string) => Deno.readTextFile(path).catch(() => "");
  for (let burst = 0; burst < 6; burst++) {
    for (let i = 0; i < 60; i++) {
      await laura.request(`PLlaura@bb.com:nobody${burst}x${i}@bb.com`, node.at);
    }
    const last = `nobody${burst}x59@bb.com`;
    await until(
      `burst ${burst} is logged`,
      async () => (await read(log)).includes(last) || (await read(`${log}.1`)).includes(last),
    );
  }
  strictEqual((await node.child.stop()).code, 0);
  deepStrictEqual(
    (await dir.files()).filter((f) => f.startsWith("nodelumi-bb.com.log") && !f.endsWith(".lock")),
    ["nodelumi-bb.com.log", "nodelumi-bb.com.log.1", "nodelumi-bb.com.log.2"],
  );
  for (const name of ["nodelumi-bb.com.log.2", "nodelumi-bb.com.log.1", "nodelumi-bb.com.log"]) {
    const lines = (await dir.read(name)).trimEnd().split("\n");
    strictEqual(lines[0], LOG_OPEN_MARKER, name);
    strictEqual(lines.at(-1), LOG_CLOSE_MARKER, name);
  }
  const rotated = (await Deno.stat(dir.file("nodelumi-bb.com.log.1"))).size;
  ok(rotated >= 4096 && rotated < 4096 + 64 * 1024, `a rotated file holds ${rotated} bytes`);
});

Deno.test("reload applies new rate limits at once, names what waits for a restart, and the operational log tells it all", async () => {
  const cfg = (limits: string) =>
    `domain = bb.com\nlisten = 127.0.26.15:0\n[limits]\n${limits}\n[log]\nops = ops.log\n` +
    "[users]\nlaura\n";
  await using dir = await ScratchDir.create("reload-limits", { "nodelumi.cfg": cfg("") });
  await using node = await ServiceNode.start(dir.path, [
    "--no-database",
    "--no-state",
    "--log-format",
    "json",
  ]);
  await using laura = UdpPeer.open("laura", "127.0.26.16");
  strictEqual((await laura.request("PRlaura@bb.com", node.at)).text, "RR0");
  await dir.write(
    "nodelumi.cfg",
    cfg("rate-limit = 5\nheartbeat = 60").replace(
      "listen = 127.0.26.15:0",
      "listen = 127.0.26.15:3344",
    ),
  );
  const reload = await node.ctl("reload");
  strictEqual(reload.code, 0, reload.stderr);
  match(reload.stdout, /^Applied: \[limits\] rate-limit\.$/m);
  match(
    reload.stdout,
    /^Not applied until the next start .*: listen, \[limits\] heartbeat\.$/m,
  );
  // Six datagrams in a window of one second: the sixth starts a ban.
  for (let i = 0; i < 8; i++) await laura.send(`PLlaura@bb.com:x${i}@bb.com`, node.at);
  await until("the ban", async () => (await node.json<{ bans: number }>("stats")).bans === 1);
  strictEqual((await node.child.stop()).code, 0);
  const events = (await dir.read("ops.log")).trimEnd().split("\n").map((l) => JSON.parse(l));
  const messages = events.map((e) => `${e.level} ${e.message}`);
  match(messages[0]!, /^INFO Node "bb\.com" started/);
  ok(messages.some((m) => /^INFO ctl "reload"/.test(m)), messages.join("\n"));
  ok(messages.some((m) => /^WARN Banned "127\.0\.26\.16"/.test(m)), messages.join("\n"));
  match(messages.at(-1)!, /^INFO Node "bb\.com" stopped$/);
  for (const event of events) ok(!Number.isNaN(Date.parse(event["@timestamp"])), "each has a time");
});

Deno.test("reload opens and closes sign-up at once, and says so", async () => {
  const cfg = (open: string) =>
    `domain = bb.com\nlisten = 127.0.26.18:0\n[accounts]\nopen-signup = ${open}\n[users]\nlaura\n`;
  await using dir = await ScratchDir.create("reload-signup", { "nodelumi.cfg": cfg("no") });
  await using node = await ServiceNode.start(dir.path, ["--no-state"]);
  await using peer = UdpPeer.open("nuria", "127.0.26.19");
  const signUp = (name: string) =>
    `PU${name}@bb.com;s=EEEEEEEEEEEEEEEEEEEEEE;i=600000;k=FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF`;
  strictEqual((await peer.request(signUp("nuria"), node.at)).text, "RU3;e=closed");
  await dir.write(
    "nodelumi.cfg",
    cfg("yes").replace("listen = 127.0.26.18:0", "listen = " + `${node.at.ip}:${node.at.port}`),
  );
  const opened = await node.ctl("reload");
  strictEqual(opened.code, 0, opened.stderr);
  match(opened.stdout, /^Applied: \[accounts\] open-signup\.$/m);
  strictEqual((await peer.request(signUp("nuria"), node.at)).text, "RU0");
  await dir.write(
    "nodelumi.cfg",
    cfg("no").replace("listen = 127.0.26.18:0", "listen = " + `${node.at.ip}:${node.at.port}`),
  );
  strictEqual((await node.ctl("reload")).code, 0);
  strictEqual((await peer.request(signUp("pere"), node.at)).text, "RU3;e=closed");
  // The account made while sign-up was open is still there.
  const listed = await node.json<Listed>("list");
  ok(listed.users.some((u) => u.address === "nuria@bb.com"), JSON.stringify(listed));
});
