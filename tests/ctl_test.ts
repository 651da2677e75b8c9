/**
 * Issue 17, the control channel: a node with stdin closed administered
 * only through `main_node.ts ctl` over its Unix socket (nodelumi.ctl, 0600),
 * with exit codes a script relies on; a stale socket; a hostile client.
 * Real processes, real files, real UDP on 127.0.26.x.
 *
 * @module
 */

import { deepStrictEqual, match, ok, strictEqual } from "#assert";
import { connectUnix } from "../lib/transport/unix.ts";
import { ScratchDir } from "./support/node_harness.ts";
import { ctl, ServiceNode } from "./support/service.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const CFG = "domain = bb.com\nlisten = 127.0.26.1:0\nstate = off\nlog = off\n\n[users]\nlaura\n";

interface Listed {
  users: { address: string; online: boolean; password: boolean }[];
  total: number;
}

Deno.test("a node with stdin closed is administered only through ctl: add, passwd, list, del, reload after a hand edit", async () => {
  await using dir = await ScratchDir.create("ctl", { "nodelumi.cfg": CFG });
  await using node = await ServiceNode.start(dir.path);
  const mode = (await Deno.lstat(dir.file("nodelumi.ctl"))).mode! & 0o777;
  strictEqual(mode, 0o600, "only the node's user can use the control socket");

  deepStrictEqual(await node.ctl("add", "marta", "pere"), {
    code: 0,
    stdout: "Added marta@bb.com, pere@bb.com (saved)",
    stderr: "",
  });
  const again = await node.ctl("add", "marta");
  deepStrictEqual([again.code, again.stderr], [1, "marta is already a user"]);
  strictEqual((await node.ctl("passwd", "marta", "two words")).code, 0);
  const listed = await node.json<Listed>("list");
  deepStrictEqual(listed.users.map((u) => [u.address, u.password]), [
    ["laura@bb.com", false],
    ["marta@bb.com", true],
    ["pere@bb.com", false],
  ]);
  const table = await node.ctl("list");
  match(table.stdout, /^ {2}marta@bb\.com +offline {2}\[password\]$/m);
  match(table.stdout, /^3 users, 0 online$/m);

  // Not a terminal: no confirmation is asked, and passwd without a password is refused.
  deepStrictEqual(await node.ctl("del", "pere"), {
    code: 0,
    stdout: "Removed pere@bb.com (saved)",
    stderr: "",
  });
  const noPassword = await node.ctl("passwd", "marta");
  strictEqual(noPassword.code, 64);
  match(noPassword.stderr, /standard input is not a terminal/);
  strictEqual((await node.ctl("nopasswd", "marta")).code, 0);
  deepStrictEqual(
    (await node.json<Listed>("list")).users.map((u) => u.password),
    [false, false],
    "marta's password is gone",
  );
  strictEqual((await node.ctl("nopasswd", "nobody")).code, 1);
  strictEqual((await node.ctl("buddies")).code, 64);
  strictEqual((await node.ctl("frobnicate")).code, 64);
  strictEqual((await node.ctl("exit")).code, 64, "ctl does not stop a node");
  strictEqual(await dir.read("nodelumi.cfg"), CFG.replace("laura\n", "laura\nmarta\n"));

  // A hand edit: saves are refused until a reload takes it in.
  await dir.write("nodelumi.cfg", CFG.replace("laura\n", "laura\nmarta\njoan\n"));
  const refused = await node.ctl("add", "anna");
  strictEqual(refused.code, 1);
  match(refused.stderr, /changed on disk/);
  const reload = await node.ctl("reload");
  strictEqual(reload.code, 0, reload.stderr);
  match(reload.stdout, /^Reloaded: 3 users; added joan@bb\.com$/m);
  deepStrictEqual(
    (await node.json<Listed>("list")).users.map((u) => u.address),
    ["laura@bb.com", "marta@bb.com", "joan@bb.com"],
  );
  await using joan = UdpPeer.open("joan", "127.0.26.2");
  strictEqual((await joan.request("PRjoan@bb.com", node.at)).text, "RR0");
  const online = await node.json<Listed>("online");
  deepStrictEqual(online.users.map((u) => [u.address, u.online]), [["joan@bb.com", true]]);
  const stats = await node.json<{ received: number }>("stats");
  strictEqual(stats.received, 1);
  match((await node.ctl("stats")).stdout, /^received +1$/m);

  strictEqual((await node.child.stop()).code, 0);
  deepStrictEqual(await dir.files(), ["nodelumi-bb.com.db", "nodelumi.cfg"], "the socket is gone");
});

Deno.test("ctl without a running node exits 3; a killed node's socket is replaced at the next start", async () => {
  await using dir = await ScratchDir.create("ctl-stale", { "nodelumi.cfg": CFG });
  const none = await ctl(dir.path, ["list"]);
  strictEqual(none.code, 3);
  match(none.stderr, /No node is running in this folder \(nodelumi\.ctl does not exist\)/);
  {
    await using node = await ServiceNode.start(dir.path, ["--no-database"]);
    node.child.kill("SIGKILL");
    await node.child.exited();
  }
  ok((await Deno.lstat(dir.file("nodelumi.ctl"))).isSocket, "a kill -9 leaves the socket file");
  const stale = await ctl(dir.path, ["list"]);
  strictEqual(stale.code, 3);
  match(stale.stderr, /is left from a node that stopped/);
  await using node = await ServiceNode.start(dir.path, ["--no-database"]);
  const listed = await node.ctl("list");
  strictEqual(listed.code, 0, listed.stderr);
  match(listed.stdout, /^1 users, 0 online$/m);
  strictEqual(
    (await node.ctl("passwd", "laura", "pw")).code,
    1,
    "no account database: refused, with the reason",
  );
  strictEqual((await node.child.stop()).code, 0);
  // A node without a control socket: its lock says it runs.
  await using quiet = await ServiceNode.start(dir.path, ["--no-database", "--no-control"]);
  const silent = await quiet.ctl("list");
  strictEqual(silent.code, 4);
  match(
    silent.stderr,
    new RegExp(`A node runs on nodelumi\\.cfg \\(pid ${quiet.child.pid}\\) but does not answer`),
  );
});

async function exchange(path: string, bytes: Uint8Array, close = true): Promise<string> {
  const conn = await connectUnix(path);
  try {
    try {
      let offset = 0;
      while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
      if (close) await conn.closeWrite();
    } catch {
      // The node stopped reading (a request too long) and closed: its answer is there to read.
    }
    const chunks: string[] = [];
    const buffer = new Uint8Array(4096);
    const decoder = new TextDecoder();
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) break;
      chunks.push(decoder.decode(buffer.subarray(0, n)));
    }
    return chunks.join("");
  } finally {
    conn.close();
  }
}

Deno.test("a hostile client on the control socket is bounded: garbage, a huge line, a slow one", async () => {
  await using dir = await ScratchDir.create("ctl-hostile", { "nodelumi.cfg": CFG });
  await using node = await ServiceNode.start(dir.path, ["--no-database"]);
  const path = dir.file("nodelumi.ctl");
  const encoder = new TextEncoder();
  deepStrictEqual(JSON.parse(await exchange(path, encoder.encode("hello\n"))), {
    status: "usage",
    text: "Bad request: not a line of JSON",
  });
  deepStrictEqual(
    JSON.parse(await exchange(path, encoder.encode('{"command":"list","args":[1]}\n'))).text,
    'Bad request: "args" must be a list of strings',
  );
  // A megabyte without a newline: refused at 64 KiB, the rest unread.
  const huge = await exchange(path, new Uint8Array(1 << 20).fill(0x41), false);
  strictEqual(JSON.parse(huge).text, "Bad request: longer than 65536 bytes");
  // A client that says nothing holds one of 16 places for 5 s at most; others are served.
  const slow = await connectUnix(path);
  const slowAnswer = (async () => {
    const buffer = new Uint8Array(4096);
    const n = await slow.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  })();
  const started = performance.now();
  strictEqual((await node.ctl("list")).code, 0);
  strictEqual(JSON.parse(await slowAnswer).text, "Bad request: not whole in time");
  const waited = performance.now() - started;
  ok(waited >= 4_000 && waited < 15_000, `the slow client was cut off after ${waited} ms`);
  slow.close();
  await using peer = UdpPeer.open("laura", "127.0.26.3");
  strictEqual((await peer.request("PRlaura@bb.com", node.at)).text, "RR0", "the node still serves");
});
