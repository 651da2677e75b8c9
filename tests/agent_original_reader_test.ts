/**
 * An original agent reads its PMI connection one read of up to 102 bytes at a
 * time, decodes the first frame and throws the rest away. Our agent writes to
 * such a peer one frame per write, paced, so it sees every line: as a relayed
 * member of a group (notices and several members' lines at once), and in a
 * plain conversation (a long line cut into several frames).
 */

import assert from "#assert";
import { OriginalAgent, OriginalReader, startAgent, startNode } from "./support/agent_peers.ts";
import { tempDir } from "./support/process.ts";

/** Read frames as the original does until `count` lines arrived or the stream ends. */
async function readLines(reader: OriginalReader, count: number): Promise<string[]> {
  const lines: string[] = [];
  while (lines.length < count) {
    const frame = await reader.readFrame(3_000).catch(() => null);
    if (frame === null) break;
    if (frame.type === "L") lines.push(frame.text);
  }
  return lines;
}

Deno.test("an original agent that reads one frame per 102-byte read sees every line, in a group and in a conversation", async (t) => {
  const dir = await tempDir("original-reader-");
  const started = await startNode(dir, "bb.com", ["ana", "bo", "pere", "olga"]);
  await using _node = started.process;
  await using ana = await startAgent(dir, "ana@bb.com", "Ana", started.endpoint);
  await using bo = await startAgent(dir, "bo@bb.com", "Bo", started.endpoint);

  await t.step("relayed in a group: the notices and a burst of lines all arrive", async () => {
    await ana.send("/group friends");
    await ana.waitFor(/^Group #friends created/);
    await ana.send("/invite bo@bb.com");
    // Nobody is put in a group without saying yes (issue 19).
    await bo.waitFor(/invites you to group #friends: \/accept or \/decline/);
    await bo.send("/accept");
    await ana.waitFor(/^\[#friends\] Bo \(bo@bb\.com\) joined$/);

    await using pere = new OriginalAgent("pere@bb.com");
    await pere.register(started.endpoint);
    await ana.send("/invite pere@bb.com");
    await pere.answerLookup();
    await using pmi = await pere.accept();
    const reader = new OriginalReader(pmi.conn);
    assert.deepEqual(await reader.readFrame(), { type: "N", text: "Ana" });
    await pmi.send("N04Pere");
    assert.deepEqual(await readLines(reader, 2), [
      "* Ana added you to group #friends",
      "* Members: Ana, Bo",
    ]);
    await bo.waitFor(/^\[#friends\] Pere \(pere@bb\.com\) joined \(relayed by Ana\)$/);

    // Five lines typed at once by Bo, and a line of 250 bytes (three frames) from Ana.
    await bo.send(["one", "two", "three", "four", "five"].join("\n"));
    const long = "x".repeat(250);
    await ana.send(long);
    const lines = await readLines(reader, 5 + 3);
    const fromBo = lines.filter((l) => l.startsWith("Bo: "));
    assert.deepEqual(fromBo, ["one", "two", "three", "four", "five"].map((w) => `Bo: ${w}`));
    const fromAna = lines.filter((l) => !l.startsWith("Bo: ")).join("");
    assert.equal(fromAna, `Ana: ${long}`);
    assert.equal(reader.discarded, 0);
    pmi.close();
    await ana.waitFor(/^\[#friends\] Pere \(pere@bb\.com\) left \(relayed by you\)$/);
    await ana.send("/leave");
    await ana.waitFor(/^You left #friends$/);
  });

  await t.step("in a conversation: a long line in several frames arrives whole", async () => {
    await using olga = new OriginalAgent("olga@bb.com");
    await olga.register(started.endpoint);
    await bo.send("/call olga@bb.com");
    await olga.answerLookup();
    await using pmi = await olga.accept();
    const reader = new OriginalReader(pmi.conn);
    assert.deepEqual(await reader.readFrame(), { type: "N", text: "Bo" });
    await pmi.send("N04Olga");
    await bo.waitFor(/^Connected to Olga \(olga@bb\.com\)$/);
    const long = "y".repeat(400); // five frames
    await bo.send([long, "short"].join("\n"));
    const lines = await readLines(reader, 6);
    assert.equal(lines.join(""), `${long}short`);
    assert.equal(reader.discarded, 0);
  });
});
