/**
 * The packet log on disk: markers, buffering, appending; and a real node's
 * log, which must show no secret of the extended protocol, in files only
 * their owner can read. Needs write permission in tests/.tmp.
 *
 * @module
 */

import { ok, strictEqual } from "#assert";
import { createCredentials, toBase64Url } from "../lib/auth.ts";
import { LOG_CLOSE_MARKER, LOG_OPEN_MARKER, openPacketLog } from "../lib/packet_log.ts";
import { challengeOf, ExtAgent, parseReply, value } from "./support/ext_agent.ts";
import { NodeProcess, ScratchDir } from "./support/node_harness.ts";
import { tempDir } from "./support/process.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const AGENT = { ip: "127.0.0.1", port: 40000 };

async function withDir(run: (path: string) => Promise<void>): Promise<void> {
  const dir = await tempDir("packet-log-");
  try {
    await run(`${dir}/nodelumi-bb.com.log`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a log holds its lines between the opening and closing markers", async () => {
  await withDir(async (path) => {
    const log = await openPacketLog(path);
    log.record("R", AGENT, bytes("PRlaura@bb.com"));
    log.record("E", AGENT, bytes("RR0"));
    await log.close();
    strictEqual(
      await Deno.readTextFile(path),
      [
        LOG_OPEN_MARKER,
        "R: 127.0.0.1:UDP:40000, PRlaura@bb.com, 14",
        "E: 127.0.0.1:UDP:40000, RR0, 3",
        LOG_CLOSE_MARKER,
        "",
      ].join("\n"),
    );
  });
});

Deno.test("lines are buffered until a flush, then written in order", async () => {
  await withDir(async (path) => {
    // An interval that never comes during the test: only explicit flushes write.
    await using log = await openPacketLog(path, { flushMs: 3_600_000 });
    log.record("R", AGENT, bytes("PRlaura@bb.com"));
    strictEqual(await Deno.readTextFile(path), "");
    await log.flush();
    strictEqual(
      await Deno.readTextFile(path),
      `${LOG_OPEN_MARKER}\nR: 127.0.0.1:UDP:40000, PRlaura@bb.com, 14\n`,
    );
    log.record("E", AGENT, bytes("RR0"));
    await log.flush();
    strictEqual(
      await Deno.readTextFile(path),
      `${LOG_OPEN_MARKER}\nR: 127.0.0.1:UDP:40000, PRlaura@bb.com, 14\n` +
        "E: 127.0.0.1:UDP:40000, RR0, 3\n",
    );
  });
});

Deno.test("a reopened log is appended to, and closing twice or recording after close is harmless", async () => {
  await withDir(async (path) => {
    const first = await openPacketLog(path);
    first.record("E", AGENT, bytes("RR0"));
    await first.close();
    await first.close();
    first.record("E", AGENT, bytes("RR1"));
    const second = await openPacketLog(path);
    second.record("E", AGENT, bytes("RD0"));
    await second[Symbol.asyncDispose]();
    strictEqual(
      await Deno.readTextFile(path),
      [
        LOG_OPEN_MARKER,
        "E: 127.0.0.1:UDP:40000, RR0, 3",
        LOG_CLOSE_MARKER,
        LOG_OPEN_MARKER,
        "E: 127.0.0.1:UDP:40000, RD0, 3",
        LOG_CLOSE_MARKER,
        "",
      ].join("\n"),
    );
  });
});

Deno.test("a node's packet log shows no proof, nonce or stored key, and no token is sent, and its files are readable by their owner only", async () => {
  await using dir = await ScratchDir.create("secrets", {
    "nodelumi.cfg": "domain = bb.com\n[accounts]\nopen-signup = yes\n[users]\nlaura joan\n",
    // Left by an earlier version, readable by everyone: tightened at start, with a warning each.
    "nodelumi-bb.com.log": "",
    "nodelumi-bb.com.state": '{"version":1,"online":[]}\n',
  });
  for (const name of ["nodelumi-bb.com.log", "nodelumi-bb.com.state"]) {
    await Deno.chmod(dir.file(name), 0o644);
  }
  const node = await NodeProcess.start(dir.path);
  const secrets: string[] = [];
  try {
    await node.command("passwd laura s3cret", /^Password set for laura@bb\.com \(saved\)$/);
    await using laura = ExtAgent.open("laura@bb.com", node.at);
    const challenge = challengeOf(await laura.hello());
    const { packet, reply } = await laura.prove("s3cret", challenge);
    strictEqual(reply.head, "RR0", reply.text);
    secrets.push(challenge.nonce, value(parseReply(packet), "p")!);
    strictEqual((await laura.heartbeat()).head, "RK0");
    strictEqual((await laura.buddy("add", "joan@bb.com")).head, "RB0");
    await laura.status(1);
    await laura.online(1);
    // A sign-up carries the stored key.
    const credentials = await createCredentials("nuria's", 100_000);
    const key = toBase64Url(credentials.storedKey);
    await using nuria = ExtAgent.open("nuria@bb.com", node.at);
    const signUp = `PUnuria@bb.com;s=${toBase64Url(credentials.salt)};i=100000;k=${key}`;
    strictEqual((await nuria.request(signUp)).head, "RU0");
    secrets.push(key);
    // And an original registration, for the state file.
    await using joan = UdpPeer.open("joan");
    strictEqual((await joan.request("PRjoan@bb.com", node.at)).text, "RR0");
    strictEqual((await laura.deregister()).head, "RD0");
    strictEqual((await node.stop("SIGTERM")).code, 0);
  } finally {
    await node[Symbol.asyncDispose]();
  }
  const log = await dir.read("nodelumi-bb.com.log");
  for (const secret of secrets) ok(!log.includes(secret), `${secret} is in the log:\n${log}`);
  // No token any more (`t=`): the session's requests carry a counter and a MAC, no secret.
  ok(!/;t=/.test(log), `a t= in the log:\n${log}`);
  for (const shown of ["n=(redacted)", "p=(redacted)", "k=(redacted)"]) {
    ok(log.includes(shown), `${shown} is not in the log:\n${log}`);
  }
  ok(log.includes(", PRjoan@bb.com, 13\n"), "original packets are logged as they were");
  for (const name of await dir.files()) {
    if (name === "nodelumi.cfg") continue;
    const mode = (await Deno.stat(dir.file(name))).mode! & 0o777;
    strictEqual(mode, 0o600, `${name} has mode ${mode.toString(8)}`);
  }
  ok((await dir.files()).includes("nodelumi-bb.com.db"));
  const warnings = node.child.errors.filter((l) => /readable by others \(mode "?0644"?\)/.test(l));
  strictEqual(warnings.length, 2, node.child.errors.join("\n"));
});
