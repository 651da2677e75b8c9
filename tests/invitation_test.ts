/** Nobody is put in a group without saying yes: `/accept` and `/decline` (issue 19, item 4). */

import { startAgent, startNode } from "./support/agent_peers.ts";
import { tempDir } from "./support/process.ts";

Deno.test("an invitation waits for /accept or /decline; a declined one puts nobody in the group", async () => {
  const dir = await tempDir("invitation-");
  const started = await startNode(dir, "bb.test", ["ana", "bo"], "127.0.28.20:0");
  await using _node = started.process;
  await using ana = await startAgent(dir, "ana@bb.test", "Ana", started.endpoint);
  await using bo = await startAgent(dir, "bo@bb.test", "Bo", started.endpoint);

  await ana.send("/group club");
  await ana.waitFor(/^Group #club created/);
  await ana.send("/invite bo@bb.test");
  await bo.waitFor(
    /^Ana \(ana@bb\.test\) invites you to group #club: \/accept or \/decline \(within \d+ s\)$/,
  );
  let from = bo.lines.length;
  await bo.send("/decline");
  await bo.waitFor(/^You declined the invitation to #club$/, { from });
  await ana.waitFor(/^Cannot invite bo@bb\.test: refused: declined$/);
  await bo.send("/list");
  await bo.waitFor(/^No conversations: /, { from });

  from = bo.lines.length;
  await bo.send("/accept");
  await bo.waitFor(/^No invitation is waiting for an answer$/, { from });

  await ana.send("/invite bo@bb.test");
  await bo.waitFor(/invites you to group #club/, { from });
  await bo.send("/accept #club");
  await bo.waitFor(/^You accepted the invitation to #club$/, { from });
  await bo.waitFor(/^Ana \(ana@bb\.test\) added you to group #club$/, { from });
  await ana.waitFor(/^\[#club\] Bo \(bo@bb\.test\) joined$/);
  await bo.send("hello club");
  await ana.waitFor(/^\[#club\] Bo: hello club$/);
});
