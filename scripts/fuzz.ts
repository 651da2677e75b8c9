/**
 * The long-running PLUMI fuzzer, for humans: as many generated and mutated
 * datagrams as you like against the decoder (at the 100- and 512-byte
 * limits), and optionally against a real node process over its socket, with
 * the amplification rule checked on every datagram from an unregistered
 * source. The test suite runs the same fuzzers at a fixed size
 * (`tests/fuzz_node_test.ts`); this runs them for longer, with any seed.
 *
 * ```sh
 * deno run --unstable-net --allow-net --allow-read=.,/etc/resolv.conf --allow-write=. \
 *   --allow-run --allow-sys=hostname --allow-env scripts/fuzz.ts --count 1000000
 * deno run … scripts/fuzz.ts --count 10000000 --node-count 1000000 --seed 42
 * ```
 *
 * A datagram that breaks a property is printed as a line of the regression
 * corpus (`tests/corpus/plumi.txt`); `--append-corpus` adds it there, so the
 * test suite replays it from then on. Exit code 0: no failure; 1: failures.
 *
 * @module
 */

import { parseArgs } from "#cli";
import { bindUdp } from "../lib/transport/udp.ts";
import { fuzzNode, fuzzNodeConfig } from "../tests/support/node_fuzz.ts";
import { NodeProcess, NxDomainServer, ScratchDir } from "../tests/support/node_harness.ts";
import { checkDatagram, corpusLine, FuzzFailure, outcome } from "../tests/support/plumi_check.ts";
import { latin1, PlumiFuzzer, randomSeed } from "../tests/support/plumi_fuzz.ts";

const CORPUS = new URL("../tests/corpus/plumi.txt", import.meta.url);

const HELP = `PLUMI fuzzer: the decoder, and optionally a node over its socket.

Options:
  --count N          datagrams against the decoder (default 1000000)
  --node-count N     datagrams against a node process (default 0: none)
  --seed N           seed (default: random; printed)
  --keep-going       do not stop at the first failure
  --append-corpus    add each failing datagram to tests/corpus/plumi.txt
  -h, --help         this text`;

interface Failure {
  readonly datagram: Uint8Array;
  readonly what: string;
}

function fuzzDecoder(count: number, seed: number, keepGoing: boolean): Failure[] {
  const fuzzer = new PlumiFuzzer(seed);
  const failures: Failure[] = [];
  const stats = new Map<string, number>();
  const started = performance.now();
  let bytes = 0;
  for (let i = 1; i <= count; i++) {
    const datagram = fuzzer.next();
    bytes += datagram.length;
    try {
      const [, extended] = checkDatagram(datagram);
      const key = outcome(extended);
      stats.set(key, (stats.get(key) ?? 0) + 1);
    } catch (error) {
      if (!(error instanceof FuzzFailure)) throw error;
      failures.push({ datagram, what: error.message.split(":")[0]! });
      console.log(`FAIL #${i}: ${error.message}`);
      if (!keepGoing) break;
    }
    if (i % 1_000_000 === 0 || i === count) {
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `decoder: ${i} datagrams (${(bytes / 1e6).toFixed(0)} MB) in ${seconds.toFixed(1)} s, ` +
          `${Math.round(i / seconds)}/s, each decoded at both limits; ${failures.length} failures`,
      );
    }
  }
  console.log("decoder outcomes:", Object.fromEntries([...stats].sort()));
  return failures;
}

async function fuzzNodeProcess(count: number, seed: number): Promise<Failure[]> {
  await using dns = new NxDomainServer();
  const taken = bindUdp({ ip: "127.0.0.1", port: 0 });
  const peer = taken.local;
  taken.close();
  const users = ["laura", "joan", "pere", "anna", "marta"];
  await using dir = await ScratchDir.create("fuzz-script", {
    "nodelumi.cfg": fuzzNodeConfig(dns.endpoint.port, peer.port, [...users, "probe"]),
  });
  await using node = await NodeProcess.start(dir.path, ["--no-log"]);
  await node.command("passwd anna s3cret", /^Password set for anna@bb\.com \(saved\)$/);
  const report = await fuzzNode({
    node: node.at,
    domain: "bb.com",
    count,
    seed,
    vocabulary: {
      names: [...users, "nobody", "x", ".lumi-probe"],
      domains: ["bb.com", "BB.com.", "cc.com", "dd.org", "nowhere.invalid"],
    },
    agents: ["laura", "marta"],
    probeUser: "probe",
    peer,
  });
  const stats = await node.stats();
  const seconds = report.elapsedMs / 1000;
  console.log(
    `node: ${report.sent} datagrams in ${seconds.toFixed(1)} s, ${
      Math.round(report.sent / seconds)
    }/s; ` +
      `${report.fromFresh} from fresh sockets (${report.freshBytesSent} bytes), answered with ` +
      `${report.freshAnswers} datagrams (${report.freshBytesReceived} bytes); node read ` +
      `${stats.received}, sent ${stats.sent}; ${report.amplifications.length} amplifications`,
  );
  const failures: Failure[] = report.amplifications.map((a) => ({
    datagram: latin1(a.request),
    what: `answered with ${a.answers.map((t) => t.length).join("+")} bytes`,
  }));
  for (const a of report.amplifications) {
    console.log(`AMPLIFICATION: "${a.request}" answered by ${JSON.stringify(a.answers)}`);
  }
  if (stats.received < report.sent) {
    console.log(`the node read only ${stats.received} of ${report.sent} datagrams`);
  }
  const status = await node.stop("SIGTERM");
  if (status.code !== 0 || node.child.errors.length > 0) {
    console.log(`the node ended with ${status.code}:\n${node.child.errors.join("\n")}`);
    failures.push({ datagram: new Uint8Array(0), what: "the node did not stop cleanly" });
  }
  return failures;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      count: { type: "string", default: "1000000" },
      "node-count": { type: "string", default: "0" },
      seed: { type: "string" },
      "keep-going": { type: "boolean", default: false },
      "append-corpus": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const count = Number(values.count);
  const nodeCount = Number(values["node-count"]);
  const seed = values.seed === undefined ? randomSeed() : Number(values.seed) >>> 0;
  if (!Number.isInteger(count) || !Number.isInteger(nodeCount) || count < 0 || nodeCount < 0) {
    console.error("--count and --node-count take whole numbers");
    return 64;
  }
  console.log(`seed ${seed}`);
  const failures = fuzzDecoder(count, seed, values["keep-going"]);
  if (nodeCount > 0 && (failures.length === 0 || values["keep-going"])) {
    failures.push(...await fuzzNodeProcess(nodeCount, seed));
  }
  if (failures.length > 0) {
    const lines = failures.map((f) => corpusLine(f.datagram, `fuzz seed ${seed}: ${f.what}`));
    console.log(`\n${failures.length} failures, as corpus lines:\n${lines.join("\n")}`);
    if (values["append-corpus"]) {
      await Deno.writeTextFile(CORPUS, lines.join("\n") + "\n", { append: true });
      console.log(`appended to ${CORPUS.pathname}`);
    }
    return 1;
  }
  console.log("no failures");
  return 0;
}

Deno.exit(await main());
