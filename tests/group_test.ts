/**
 * Group chats end to end: real agent processes in two domains, each domain
 * with its own node process (the nodes find each other through the
 * `[domains]` map of their INI configuration), and an original-protocol
 * agent made of bare sockets.
 */

import assert from "#assert";
import { lineFrames, OriginalAgent, startAgent, startNode } from "./support/agent_peers.ts";
import type { ChildProcess } from "./support/process.ts";
import { tempDir } from "./support/process.ts";

/** Lines each member sends in the big exchange: 5 × 200 = 1,000. */
const PER_MEMBER = 200;

interface Member {
  readonly name: string;
  readonly nick: string;
  readonly address: string;
  readonly agent: ChildProcess;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Wait until `member` knows `other` is in the group, whichever way it learnt it. */
async function waitForMember(member: Member, other: Member, label: string): Promise<void> {
  const who = `${escape(other.nick)} \\(${escape(other.address)}\\)`;
  await member.agent.waitFor(
    new RegExp(
      `^(\\[${label}\\] ${who} (joined|is in the group)|${who} added you to group ${label})$`,
    ),
  );
}

/** The texts `agent` showed from `nick` in group `label`, in order, from line `from`. */
function shown(agent: ChildProcess, label: string, nick: string, from = 0): string[] {
  const prefix = `[${label}] ${nick}: `;
  return agent.lines.slice(from).filter((l) => l.startsWith(prefix)).map((l) =>
    l.slice(prefix.length)
  );
}

/** Two loopback IPs for the two nodes, both on port 3344 as the original protocol has it. */
function nodeIps(): [string, string] {
  const third = 1 + Math.floor(Math.random() * 250);
  return [`127.8.${third}.1`, `127.8.${third}.2`];
}

Deno.test({
  name: "group chats across two domains: exactly once, in order, with members that come and go",
  // Binding 127.x.y.z needs the whole 127/8 on loopback, as Linux has.
  ignore: Deno.build.os !== "linux",
  fn: async (t) => {
    const dir = await tempDir("group-");
    const [ipA, ipB] = nodeIps();
    const [nodeA, nodeB] = await Promise.all([
      startNode(dir, "aa.test", ["ana", "bo"], `${ipA}:3344`, { "bb.test": `${ipB}:3344` }),
      startNode(dir, "bb.test", ["cy", "di", "ed", "pere"], `${ipB}:3344`, {
        "aa.test": `${ipA}:3344`,
      }),
    ]);
    await using _nodeA = nodeA.process;
    await using _nodeB = nodeB.process;
    const specs = [
      ["ana", "Ana", "aa.test", nodeA],
      ["bo", "Bo", "aa.test", nodeA],
      ["cy", "Cy", "bb.test", nodeB],
      ["di", "Di", "bb.test", nodeB],
      ["ed", "Ed", "bb.test", nodeB],
    ] as const;
    const members: Member[] = await Promise.all(specs.map(async ([name, nick, domain, node]) => ({
      name,
      nick,
      address: `${name}@${domain}`,
      agent: await startAgent(dir, `${name}@${domain}`, nick, node.endpoint),
    })));
    try {
      const [ana, bo, cy, di, ed] = members as [Member, Member, Member, Member, Member];
      const label = "#friends";

      await t.step(
        "Ana starts a group and invites four members, two domains, one by one",
        async () => {
          await ana.agent.send("/group friends");
          await ana.agent.waitFor(/^Group #friends created/);
          for (const invited of [bo, cy, di, ed]) {
            await ana.agent.send(`/invite ${invited.address}`);
            // Nobody is put in a group without saying yes (issue 19).
            await invited.agent.waitFor(/invites you to group #friends: \/accept or \/decline/);
            await invited.agent.send("/accept");
            await ana.agent.waitFor(
              new RegExp(
                `^\\[#friends\\] ${invited.nick} \\(${escape(invited.address)}\\) joined$`,
              ),
            );
          }
          // A full mesh: every member learns of every other one.
          await Promise.all(
            members.flatMap((m) =>
              members.filter((o) => o !== m).map((o) => waitForMember(m, o, label))
            ),
          );
          await bo.agent.waitFor(/^Ana \(ana@aa\.test\) added you to group #friends$/);
          await bo.agent.waitFor(/^\[#friends\] Ed \(ed@bb\.test\) joined$/);
          await ed.agent.waitFor(/^\[#friends\] Bo \(bo@aa\.test\) is in the group$/);
        },
      );

      await t.step(
        "1,000 lines: every member shows every other member's lines once, in order",
        async () => {
          const starts = members.map((m) => m.agent.lines.length);
          await Promise.all(members.map((m) => {
            const lines = Array.from({ length: PER_MEMBER }, (_, i) => `${m.name} line ${i}`);
            return m.agent.send(lines.join("\n"));
          }));
          const last = `line ${PER_MEMBER - 1}`;
          await Promise.all(
            members.flatMap((m, i) =>
              members.filter((o) => o !== m).map((o) =>
                m.agent.waitFor(new RegExp(`^\\[#friends\\] ${o.nick}: ${o.name} ${last}$`), {
                  from: starts[i],
                  timeoutMs: 20_000,
                })
              )
            ),
          );
          for (const [i, m] of members.entries()) {
            for (const o of members) {
              const expected = o === m
                ? []
                : Array.from({ length: PER_MEMBER }, (_, n) => `${o.name} line ${n}`);
              assert.deepEqual(
                shown(m.agent, label, o.nick, starts[i]),
                expected,
                `${m.name} ← ${o.name}`,
              );
            }
          }
        },
      );

      await t.step(
        "a member killed mid-chat is announced as vanished; the others go on",
        async () => {
          const starts = members.map((m) => m.agent.lines.length);
          await ed.agent.send("about to go");
          ed.agent.kill("SIGKILL");
          await ed.agent.exited();
          for (const m of [ana, bo, cy, di]) {
            await m.agent.waitFor(/^\[#friends\] Ed \(ed@bb\.test\) vanished \(.+\)$/);
          }
          await di.agent.send("still here");
          for (const [i, m] of [ana, bo, cy].entries()) {
            await m.agent.waitFor(/^\[#friends\] Di: still here$/, { from: starts[i] });
          }
          await ana.agent.send("/list");
          await ana.agent.waitFor(/^\* #friends {2}group, 4 members: you, /);
        },
      );

      await t.step(
        "an original-protocol agent is invited, sees everyone, is heard, and gets only N and L",
        async () => {
          await using pere = new OriginalAgent("pere@bb.test");
          await pere.register(nodeB.endpoint);
          await ana.agent.send("/invite pere@bb.test");
          assert.equal(await pere.answerLookup(), "PLana@aa.test:pere@bb.test");
          await using pmi = await pere.accept();
          const frames: Array<{ type: string; text: string }> = [];
          const next = async (): Promise<string> => {
            const frame = await pmi.readFrame();
            frames.push(frame);
            return frame.text;
          };
          assert.equal(await next(), "Ana");
          await pmi.send("N04Pere");
          assert.equal(await next(), "* Ana added you to group #friends");
          assert.equal(await next(), "* Members: Ana, Bo, Cy, Di");
          await ana.agent.waitFor(
            /^\[#friends\] Pere \(pere@bb\.test\) joined \(relayed by you\)$/,
          );
          for (const m of [bo, cy, di]) {
            await m.agent.waitFor(
              /^\[#friends\] Pere \(pere@bb\.test\) joined \(relayed by Ana\)$/,
            );
          }

          // Everyone's lines reach Pere, as `<nick>: <text>`.
          for (const m of [ana, bo, cy, di]) await m.agent.send(`hello pere from ${m.name}`);
          const heard = new Set<string>();
          while (heard.size < 4) {
            const text = await next();
            if (/: hello pere from /.test(text)) heard.add(text);
          }
          assert.deepEqual(
            [...heard].sort(),
            [ana, bo, cy, di].map((m) => `${m.nick}: hello pere from ${m.name}`).sort(),
          );

          // Pere's lines reach everyone.
          await pmi.send(lineFrames("hi, all of you"));
          for (const m of [ana, bo, cy, di]) {
            await m.agent.waitFor(/^\[#friends\] Pere: hi, all of you$/);
          }
          // Read up to a last line of Ana's: every frame Pere received so far is then checked.
          await ana.agent.send("that is all");
          while (await next() !== "Ana: that is all");
          const types = new Set(frames.map((f) => f.type));
          assert.deepEqual([...types].filter((type) => type !== "N" && type !== "L"), []);

          pmi.close();
          for (const m of [bo, cy, di]) {
            await m.agent.waitFor(/^\[#friends\] Pere \(pere@bb\.test\) left \(relayed by Ana\)$/);
          }
        },
      );

      await t.step("/leave is announced as left, and the rest of the group goes on", async () => {
        await bo.agent.send("/leave");
        await bo.agent.waitFor(/^You left #friends$/);
        for (const m of [ana, cy, di]) {
          await m.agent.waitFor(/^\[#friends\] Bo \(bo@aa\.test\) left$/);
        }
        const from = di.agent.lines.length;
        await cy.agent.send("three of us now");
        await di.agent.waitFor(/^\[#friends\] Cy: three of us now$/, { from });
        await ana.agent.waitFor(/^\[#friends\] Cy: three of us now$/);
      });
    } finally {
      for (const m of members) await m.agent[Symbol.asyncDispose]();
    }
  },
});
