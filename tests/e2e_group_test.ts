/**
 * Encrypted groups, with real node and agent processes on loopback
 * (addresses 127.0.31.x): every group link is an encrypted channel, joining
 * needs a capability from an invitation, a changed key on a group link is
 * refused as in a conversation, and an original agent in a group is marked in
 * clear for every member. Ana's node traffic goes through a relay
 * (`support/e2e_path.ts`) that sends her calls and group links to Bo through
 * a tap, or to an impostor; the test plays members of its own
 * (`support/group_peer.ts`) to send what a real agent never would.
 */

import assert from "#assert";
import {
  advertisedEndpoint,
  groupEndpoint,
  OriginalAgent,
  startAgent,
  startNode,
} from "./support/agent_peers.ts";
import { AccountNode, startAgent as startAccountAgent } from "./support/account_node.ts";
import { flipped, isFrame, NodeFront, TcpTap } from "./support/e2e_path.ts";
import { GroupPeer } from "./support/group_peer.ts";
import { UdpPeer } from "./support/udp_peer.ts";
import { tempDir } from "./support/process.ts";
import { capability, newGroupSecret, secretToText } from "../lib/agent/group/capability.ts";
import type { GroupRecord, JoinRecord } from "../lib/agent/group/wire.ts";
import { newIdentity } from "../lib/crypto/mod.ts";
import { listenTcp, type StreamConn } from "../lib/transport/tcp.ts";

const IP = { front: "127.0.31.1", tap: "127.0.31.2", impostor: "127.0.31.3", tess: "127.0.31.4" };

Deno.test("group links between LUMI agents are encrypted, and joining needs an invitation", async (t) => {
  const dir = await tempDir("e2e-group-");
  const started = await startNode(dir, "grp.test", [
    "ana",
    "bo",
    "cy",
    "di",
    "pere",
    "tess",
    "eve",
  ]);
  await using _node = started.process;
  await using front = NodeFront.open(started.endpoint, IP.front);
  await using bo = await startAgent(dir, "bo@grp.test", "Bo", started.endpoint, [
    "--require-encryption",
  ]);
  await using cy = await startAgent(dir, "cy@grp.test", "Cy", started.endpoint);
  await using ana = await startAgent(dir, "ana@grp.test", "Ana", front.address);
  const boAt = await advertisedEndpoint(bo);
  const boGroups = await groupEndpoint(bo);
  const cyGroups = await groupEndpoint(cy);
  await using chatTap = TcpTap.open(boAt, { ip: IP.tap });
  /** When set, the tap changes one byte of the next sealed record Bo sends on his link with Ana. */
  let tamper = false;
  await using groupTap = TcpTap.open(boGroups, {
    ip: IP.tap,
    hook: (side, frame) => {
      if (!tamper || side !== "callee" || !isFrame(frame, "E")) return [frame];
      tamper = false;
      return [flipped(frame)];
    },
  });

  /** `member` accepts the invitation to #friends that `ana` sends it. */
  const invite = async (member: typeof bo, address: string) => {
    const from = member.lines.length;
    await ana.send(`/invite ${address}`);
    await member.waitFor(/^Ana \(ana@grp\.test\) invites you to group #friends: /, { from });
    await member.send("/accept");
    await member.waitFor(/^Ana \(ana@grp\.test\) added you to group #friends$/, { from });
  };

  await t.step("a passive capture of a group link holds none of the typed text", async () => {
    front.redirect(boAt, chatTap.address, groupTap.address.port);
    await ana.send("/group friends");
    await ana.waitFor(/^Group #friends created/);
    await invite(bo, "bo@grp.test");
    await ana.waitFor(
      /^\[#friends\] Link with Bo \(bo@grp\.test\): encrypted \(first contact, key pinned; not verified: \/verify bo@grp\.test\)$/,
    );
    await bo.waitFor(/^\[#friends\] Link with Ana \(ana@grp\.test\): encrypted \(first contact/);
    await invite(cy, "cy@grp.test");
    // Bo and Cy link with each other (encrypted too).
    await bo.waitFor(/^\[#friends\] Link with Cy \(cy@grp\.test\): encrypted/);
    await cy.waitFor(/^\[#friends\] Link with Bo \(bo@grp\.test\): encrypted/);

    const long = "the long one ".repeat(40).trim();
    await ana.send("meet me at the old mill at noon");
    for (const m of [bo, cy]) {
      await m.waitFor(/^\[#friends\] Ana: meet me at the old mill at noon$/);
    }
    await bo.send("understood, the mill at noon");
    await bo.send(long);
    for (const m of [ana, cy]) {
      await m.waitFor(/^\[#friends\] Bo: understood, the mill at noon$/);
      await m.waitFor(new RegExp(`^\\[#friends\\] Bo: ${long}$`));
    }
    const capture = groupTap.capturedText();
    for (const secret of ["old mill", "noon", "long one", "understood", "friends", "grp.test"]) {
      assert.ok(!capture.includes(secret), `"${secret}" crossed the group link in clear`);
    }
    // After the nicknames, only handshake (H) and sealed (E) frames, both ways: no G frame.
    for (const side of ["caller", "callee"] as const) {
      const types = new Set(groupTap.frames(side).slice(1).map((f) => String.fromCharCode(f[0]!)));
      assert.deepEqual([...types].sort(), ["E", "H"], `${side} sent ${[...types]}`);
    }
  });

  await t.step("a group link answered with another key is refused, as a conversation", async () => {
    // An impostor answers Bo's look-up with a key of its own.
    const listener = listenTcp({ ip: IP.impostor, port: 0 });
    front.redirect(boAt, { ip: IP.impostor, port: 9 }, listener.local.port);
    const impostor = (async () => {
      for await (const conn of listener) {
        await GroupPeer.answer(conn, { address: "bo@grp.test", nick: "Bo" }).catch(() => {});
        conn.close();
        return;
      }
    })();
    await ana.send("/group second");
    await ana.waitFor(/^Group #second created/);
    await ana.send("/invite bo@grp.test");
    await ana.waitFor(
      /^Cannot invite bo@grp\.test: WARNING: the key of bo@grp\.test has CHANGED \(pinned /,
    );
    await impostor;
    listener.close();
    await ana.send("/leave #second");
    await ana.waitFor(/^You left #second$/);
    await ana.send("/switch #friends");
    front.redirect(boAt, chatTap.address, groupTap.address.port);
  });

  await t.step(
    "a join without an invitation, or with a capability forged or someone else's, is refused",
    async () => {
      // Tess is invited for real: the test plays her agent, so it holds her capability.
      await using tess = UdpPeer.open("tess", IP.tess);
      const tessGroups = listenTcp({ ip: IP.tess, port: 0 });
      const accepted = tessGroups[Symbol.asyncIterator]();
      assert.equal((await tess.request("PRtess@grp.test", started.endpoint)).text, "RR0");
      await ana.send("/invite tess@grp.test");
      const lookup = await tess.receive();
      assert.equal(lookup.text, "PLana@grp.test:tess@grp.test");
      const features = `v=2:g=${tessGroups.local.port}:e=1`;
      await tess.send(`RL0${lookup.text.slice(2)}:${IP.tess}:9:${features}`, lookup.from);
      const conn = (await accepted.next()).value as StreamConn;
      const tessMe = { address: "tess@grp.test", nick: "Tess", identity: newIdentity() };
      await using invited = await GroupPeer.answer(conn, tessMe);
      const invitation = await invited.nextOf("join");
      if (!invitation?.capability || !invitation.secret || invitation.mode !== "invite") {
        throw new Error(`not an invitation: ${JSON.stringify(invitation)}`);
      }
      const { gid } = invitation;
      // Tess's group endpoint: a closed port, so the others' links to her fail at once.
      await invited.send({
        kind: "welcome",
        address: tessMe.address,
        endpoint: { ip: IP.tess, port: 9 },
      });
      await ana.waitFor(/^\[#friends\] Tess \(tess@grp\.test\) joined$/);
      tessGroups.close();

      /** Eve, never invited, asks Cy to link into #friends presenting `presented`. */
      const eve = { address: "eve@grp.test", nick: "Eve", identity: newIdentity() };
      const mesh = (who: typeof eve, presented?: string): JoinRecord => ({
        kind: "join",
        mode: "mesh",
        gid,
        name: "friends",
        address: who.address,
        endpoint: { ip: IP.tess, port: 9 },
        ...(presented !== undefined && { capability: presented }),
      });
      const refused: GroupRecord = { kind: "refuse", reason: "no valid invitation to this group" };
      const attempts: Array<[string, string | undefined]> = [
        ["no capability at all: knowing the group's id is not enough", undefined],
        ["Tess's capability, replayed by Eve", invitation.capability],
        [
          "a capability Eve made with a secret of her own",
          secretToText(capability(newGroupSecret(), gid, eve.address, eve.identity.publicKey)),
        ],
      ];
      for (const [what, presented] of attempts) {
        const from = cy.lines.length;
        await using link = await GroupPeer.dial(cyGroups, eve);
        await link.send(mesh(eve, presented));
        assert.deepEqual(await link.next(), refused, what);
        assert.equal(await link.next(), null, what);
        await cy.waitFor(/dropped: refused a group link: no valid invitation to this group$/, {
          from,
        });
      }
      assert.ok(!cy.lines.some((l) => /Eve/.test(l) && /joined|is in the group/.test(l)));

      // Tess's own capability, from her own key: welcome.
      await using tessLink = await GroupPeer.dial(cyGroups, tessMe);
      await tessLink.send(mesh(tessMe, invitation.capability));
      assert.equal((await tessLink.nextOf("welcome"))?.address, "cy@grp.test");
      await tessLink.send({ kind: "line", seq: 1, text: "tess is here" });
      await cy.waitFor(/^\[#friends\] Tess: tess is here$/);

      // An invitation into a group Cy is already in is no way in either.
      await using again = await GroupPeer.dial(cyGroups, eve);
      await again.send({ ...invitation, address: eve.address });
      assert.deepEqual(await again.next(), { kind: "refuse", reason: "already in this group" });
    },
  );

  await t.step(
    "an original agent (or one without encryption) in a group is marked in clear for every member",
    async () => {
      await using pere = new OriginalAgent("pere@grp.test");
      await pere.register(started.endpoint);
      // Bo runs with --require-encryption: he relays nobody in clear.
      await bo.send("/invite pere@grp.test");
      assert.equal(await pere.answerLookup(), "PLbo@grp.test:pere@grp.test");
      await bo.waitFor(
        /^Cannot invite pere@grp\.test: an original agent would read the group in clear, and --require-encryption is set$/,
      );
      await ana.send("/invite pere@grp.test");
      assert.equal(await pere.answerLookup(), "PLana@grp.test:pere@grp.test");
      await using pmi = await pere.accept();
      assert.equal((await pmi.readFrame()).text, "Ana");
      await pmi.send("N04Pere");
      assert.equal((await pmi.readFrame()).text, "* Ana added you to group #friends");
      const inClear = (who: string, relay: string) =>
        new RegExp(
          `^\\[#friends\\] ${who} is in clear \\(an original agent, or one without encryption\\): what is said in #friends reaches them unencrypted \\(relayed by ${relay}\\)$`,
        );
      const pere_ = "Pere \\(pere@grp\\.test\\)";
      await ana.waitFor(inClear(pere_, "you"));
      for (const m of [bo, cy]) await m.waitFor(inClear(pere_, "Ana"));

      // An agent of ours without encryption has no group links: it is relayed in clear too.
      await using di = await startAgent(dir, "di@grp.test", "Di", started.endpoint, [
        "--no-encryption",
      ]);
      const diGroups = await groupEndpoint(di);
      await ana.send("/invite di@grp.test");
      await di.waitFor(/\* Ana added you to group #friends$/);
      for (const m of [bo, cy]) await m.waitFor(inClear("Di \\(di@grp\\.test\\)", "Ana"));
      const stranger = { address: "eve@grp.test", nick: "Eve" };
      await assert.rejects(GroupPeer.dial(diGroups, stranger));
      await di.waitFor(
        /dropped: group links need the identity key \(this agent runs with --no-encryption\)$/,
      );

      for (const [m, via] of [[ana, "you"], [bo, "Ana"], [cy, "Ana"]] as const) {
        const from = m.lines.length;
        await m.send("/list");
        await m.waitFor(new RegExp(`Pere \\(pere@grp\\.test\\) via ${via}, in clear`), { from });
        await m.waitFor(new RegExp(`Di \\(di@grp\\.test\\) via ${via}, in clear`), { from });
      }
    },
  );
  await t.step("a sealed record changed on the path cuts the link, with the reason", async () => {
    const from = ana.lines.length;
    tamper = true;
    await bo.send("this one is changed on the way");
    await ana.waitFor(
      /^\[#friends\] Bo \(bo@grp\.test\) vanished \(the encrypted channel broke: a frame was changed on the way \(it did not authenticate\)\)$/,
      { from },
    );
    await cy.waitFor(/^\[#friends\] Bo: this one is changed on the way$/);
    assert.ok(!ana.lines.slice(from).some((l) => l.startsWith("[#friends] Bo: this one")));
  });
});

Deno.test("a group link's first contact is checked against the key the node vouches for", async () => {
  await using node = await AccountNode.start({
    listen: "127.0.0.1:0",
    users: ["ana", "bo"],
    passwords: { ana: "ana-secret", bo: "bo-secret" },
    domain: "vouch.test",
    heartbeat: 30,
  });
  await using bo = await startAccountAgent(node, "bo@vouch.test", { password: "bo-secret" });
  await bo.waitFor(/^The node of vouch\.test vouches for your identity key/);
  const boAt = await advertisedEndpoint(bo);
  await using front = NodeFront.open(node.at, "127.0.31.11");
  await using ana = await startAccountAgent(node, "ana@vouch.test", {
    password: "ana-secret",
    args: ["--node", `${front.address.ip}:${front.address.port}`],
  });
  await ana.waitFor(/^The node of vouch\.test vouches for your identity key/);

  // An impostor with a key of its own answers the invitation meant for Bo: refused.
  const listener = listenTcp({ ip: "127.0.31.12", port: 0 });
  front.redirect(boAt, { ip: "127.0.31.12", port: 9 }, listener.local.port);
  const impostor = (async () => {
    for await (const conn of listener) {
      await GroupPeer.answer(conn, { address: "bo@vouch.test", nick: "bo" }).catch(() => {});
      conn.close();
      return;
    }
  })();
  await ana.send("/group friends");
  await ana.waitFor(/^Group #friends created/);
  await ana.send("/invite bo@vouch.test");
  await ana.waitFor(
    /^Cannot invite bo@vouch\.test: WARNING: the key that answered as bo@vouch\.test \(.*\) is not the one its node vouches for/,
  );
  await impostor;
  listener.close();

  // The real Bo: the key the node vouches for, pinned.
  front.redirect(boAt, boAt);
  await ana.send("/invite bo@vouch.test");
  await bo.waitFor(/invites you to group #friends: /);
  await bo.send("/accept");
  await ana.waitFor(
    /^\[#friends\] Link with bo \(bo@vouch\.test\): encrypted \(first contact, key pinned, vouched for by its node; not verified/,
  );
});
