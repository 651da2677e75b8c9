/**
 * Hardening, part 1: fuzzing. A million generated and mutated datagrams
 * against the PLUMI decoder (at the original 100-byte and the extended
 * 512-byte limits), the regression corpus `tests/corpus/plumi.txt`, and a
 * hundred thousand datagrams against a running node over its socket — with
 * the amplification rule checked on every one sent from an unregistered
 * source, and the node still serving at the end.
 *
 * The seed is printed; `FUZZ_SEED=<n>` replays a run. `scripts/fuzz.ts` runs
 * the same fuzzers for as long as one likes.
 *
 * @module
 */

import { deepStrictEqual, ok, strictEqual } from "#assert";
import { bindUdp } from "../lib/transport/udp.ts";
import { fuzzNode, fuzzNodeConfig, type NodeFuzzReport } from "./support/node_fuzz.ts";
import { NodeProcess, NxDomainServer, ScratchDir } from "./support/node_harness.ts";
import {
  checkDatagram,
  FuzzFailure,
  outcome,
  parseCorpus,
  PLUMI_ERROR_KINDS,
} from "./support/plumi_check.ts";
import { PlumiFuzzer, randomSeed, type Vocabulary } from "./support/plumi_fuzz.ts";
import { UdpPeer } from "./support/udp_peer.ts";

const DECODER_CASES = 1_000_000;
const NODE_CASES = 100_000;

function readSeed(): number {
  const granted = Deno.permissions.querySync({ name: "env", variable: "FUZZ_SEED" }).state ===
    "granted";
  const text = granted ? Deno.env.get("FUZZ_SEED") : undefined;
  return text !== undefined && /^\d+$/.test(text) ? Number(text) >>> 0 : randomSeed();
}

const SEED = readSeed();
console.log(`fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED} deno task test tests/fuzz_node_test.ts)`);

const CORPUS = parseCorpus(
  await Deno.readTextFile(new URL("./corpus/plumi.txt", import.meta.url)),
);

Deno.test(`PLUMI decoder survives ${DECODER_CASES} generated and mutated datagrams at 100 and 512 bytes`, () => {
  const fuzzer = new PlumiFuzzer(SEED);
  const stats = new Map<string, number>();
  const started = performance.now();
  for (let i = 0; i < DECODER_CASES; i++) {
    const [, extended] = checkDatagram(fuzzer.next());
    const key = outcome(extended);
    stats.set(key, (stats.get(key) ?? 0) + 1);
  }
  const elapsed = performance.now() - started;
  console.log(
    `decoder: ${DECODER_CASES} datagrams in ${(elapsed / 1000).toFixed(1)} s ` +
      `(${Math.round(DECODER_CASES / elapsed * 1000)}/s, each decoded at both limits):`,
    Object.fromEntries([...stats].sort()),
  );
  // The fuzz must reach every branch: every error, every kind of message.
  for (const kind of PLUMI_ERROR_KINDS) ok(stats.has(kind), `never produced ${kind}`);
  for (
    const kind of [
      "register",
      "register-reply",
      "deregister",
      "deregister-reply",
      "lookup",
      "lookup-reply",
      "ext-request",
      "ext-reply",
    ]
  ) ok((stats.get(`ok:${kind}`) ?? 0) > DECODER_CASES / 100, `too few valid ${kind}`);
});

Deno.test("the regression corpus decodes as recorded, with every property kept", () => {
  ok(CORPUS.length > 300, `corpus of ${CORPUS.length} cases`);
  for (const entry of CORPUS) {
    const where = `tests/corpus/plumi.txt line ${entry.line} (${entry.note})`;
    let results;
    try {
      results = checkDatagram(entry.datagram);
    } catch (error) {
      if (error instanceof FuzzFailure) throw new Error(`${where}: ${error.message}`);
      throw error;
    }
    deepStrictEqual(results.map(outcome), [entry.original, entry.extended], where);
  }
});

/** A node set up to be fuzzed: sign-up open, a user with a password, a peer domain, a DNS server. */
interface FuzzTarget extends AsyncDisposable {
  readonly node: NodeProcess;
  readonly dns: NxDomainServer;
  readonly peer: { ip: string; port: number };
  readonly dir: ScratchDir;
}

const USERS = ["laura", "joan", "pere", "anna", "marta"];
const VOCABULARY: Vocabulary = {
  names: [...USERS, "nobody", "x", ".lumi-probe"],
  domains: ["bb.com", "BB.com.", "cc.com", "dd.org", "nowhere.invalid"],
};

async function fuzzTarget(name: string, dnsDelayMs = 0): Promise<FuzzTarget> {
  const dns = new NxDomainServer({ delayMs: dnsDelayMs });
  // The peer node's address: free now, bound again by the fuzzer.
  const probe = bindUdp({ ip: "127.0.0.1", port: 0 });
  const peer = probe.local;
  probe.close();
  const dir = await ScratchDir.create(name, {
    "nodelumi.cfg": fuzzNodeConfig(dns.endpoint.port, peer.port, [
      ...USERS,
      "probe after1 after2 after3",
    ]),
  });
  const node = await NodeProcess.start(dir.path);
  // One user with a password, so that challenges and proofs are fuzzed too.
  await node.command("passwd anna s3cret", /^Password set for anna@bb\.com \(saved\)$/);
  return {
    node,
    dns,
    peer,
    dir,
    async [Symbol.asyncDispose]() {
      await node[Symbol.asyncDispose]();
      await dns[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** The node still does its job: registration, look-ups of each kind, deregistration. */
async function assertServes(node: NodeProcess): Promise<void> {
  // Users the fuzz never names, so that their state is known.
  await using one = UdpPeer.open("after1");
  await using two = UdpPeer.open("after2");
  const exchange = async (from: UdpPeer, packet: string, to: UdpPeer, expected: string) => {
    await from.send(packet, node.at);
    strictEqual((await to.receive()).text, expected, `what ${packet} brings to ${to.name}`);
  };
  await exchange(one, "PRafter1@bb.com", one, "RR0");
  await exchange(two, "PRafter2@bb.com", two, "RR0");
  await exchange(one, "PLafter1@bb.com:nobody@bb.com", one, "RL2after1@bb.com:nobody@bb.com");
  await exchange(one, "PLafter1@bb.com:after3@bb.com", one, "RL3after1@bb.com:after3@bb.com");
  await exchange(one, "PLafter1@bb.com:after2@bb.com", two, "PLafter1@bb.com:after2@bb.com");
  const found = "RL0after1@bb.com:after2@bb.com:127.0.0.1:4000";
  await exchange(two, found, one, found);
  await exchange(one, "PDafter1@bb.com", one, "RD0");
  await exchange(two, "PDafter2@bb.com", two, "RD0");
  deepStrictEqual([one.pending, two.pending], [[], []]);
}

/** The node read every datagram, crashed on none, and said nothing alarming. */
async function assertHealthy(target: FuzzTarget, report: NodeFuzzReport): Promise<void> {
  const stats = await target.node.stats();
  // Fuzz datagrams, probes and registrations: the node read each one (none lost to a full buffer).
  ok(
    stats.received >= report.sent,
    `the node read ${stats.received} datagrams of the ${report.sent} sent`,
  );
  deepStrictEqual(target.node.child.errors, [], "nothing on stderr");
  await assertServes(target.node);
  const status = await target.node.stop("SIGTERM");
  strictEqual(status.code, 0, "a clean stop after the fuzz");
}

function describe(report: NodeFuzzReport): string {
  const ratio = report.freshBytesReceived / Math.max(1, report.freshBytesSent);
  return `${report.sent} datagrams in ${(report.elapsedMs / 1000).toFixed(1)} s ` +
    `(${
      Math.round(report.sent / report.elapsedMs * 1000)
    }/s); ${report.fromFresh} from fresh sockets, ` +
    `${report.freshBytesSent} bytes in, ${report.freshAnswers} answers of ${report.freshBytesReceived} bytes ` +
    `back (ratio ${ratio.toFixed(3)}); ${report.registeredByFuzz} registered by the fuzz; ` +
    `peer node got ${report.peerReceived}, answered ${report.peerAnswered}; ` +
    `probe retries ${report.probeRetries}`;
}

Deno.test(`a node survives ${NODE_CASES} fuzzed datagrams, never amplifies, and still serves`, async () => {
  await using target = await fuzzTarget("fuzz-node");
  const report = await fuzzNode({
    node: target.node.at,
    domain: "bb.com",
    count: NODE_CASES,
    seed: SEED,
    vocabulary: VOCABULARY,
    agents: ["laura", "marta"],
    probeUser: "probe",
    peer: target.peer,
  });
  console.log(`node: ${describe(report)}; DNS queries ${target.dns.queries}`);
  deepStrictEqual(report.amplifications.slice(0, 5), [], "answers longer than their datagram");
  ok(report.freshAnswers > NODE_CASES / 20, "the fuzz must get answers, not only silence");
  await assertHealthy(target, report);
});

Deno.test("the corpus, one datagram at a time from unregistered sources: no crash, no answer longer than its datagram", async () => {
  await using target = await fuzzTarget("fuzz-corpus");
  const report = await fuzzNode({
    node: target.node.at,
    domain: "bb.com",
    datagrams: CORPUS.map((entry) => entry.datagram),
    seed: SEED,
    vocabulary: VOCABULARY,
    agents: [],
    probeUser: "probe",
    peer: target.peer,
    window: 1,
    inFlight: 1,
  });
  console.log(`corpus: ${describe(report)}`);
  strictEqual(report.fromFresh, CORPUS.length);
  deepStrictEqual(report.amplifications, [], "answers longer than their datagram");
  await assertHealthy(target, report);
});

Deno.test("the node fuzzer waits for the answers that wait on DNS, however slow, before it closes their sockets", async () => {
  // Each DNS answer 200 ms after the one before: the look-up's RL2 comes after two of them
  // (SRV, then A), long after the node read the datagram and answered the probe behind it.
  await using target = await fuzzTarget("fuzz-slow-dns", 200);
  const report = await fuzzNode({
    node: target.node.at,
    domain: "bb.com",
    datagrams: [new TextEncoder().encode("PLnobody@bb.com:someone@dd.org")],
    seed: SEED,
    vocabulary: VOCABULARY,
    agents: [],
    probeUser: "probe",
    peer: target.peer,
    window: 1,
    inFlight: 1,
  });
  strictEqual(report.freshAnswers, 1, `the RL2 after DNS said dd.org does not exist`);
  deepStrictEqual(report.amplifications, []);
});
