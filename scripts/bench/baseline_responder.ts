/**
 * The ceiling: a bare Deno UDP responder that answers the benchmark's packets
 * with no logic at all — no parsing, no table, no log — with the same
 * `Deno.listenDatagram` socket the node uses underneath. It receives into one
 * reused buffer and answers every datagram at once:
 *
 * - `PR…` → `RR0`, `PD…` → `RD0`
 * - `PL<from>:<to>` → `RL2<from>:<to>` (the bytes after `PL`, copied)
 * - anything else → nothing
 *
 * What the node achieves is reported as a fraction of what this achieves in
 * the same run, on the same machine, with the same load generator.
 *
 * ```sh
 * deno run --unstable-net --allow-net scripts/bench/baseline_responder.ts [--listen 127.0.0.1:0]
 * ```
 * prints `baseline responder listening on <ip>:<port>` and runs until killed.
 *
 * @module
 */

const listenFlag = Deno.args.indexOf("--listen");
const listen = listenFlag >= 0 ? Deno.args[listenFlag + 1] ?? "" : "127.0.0.1:0";
const colon = listen.lastIndexOf(":");
const conn = Deno.listenDatagram({
  transport: "udp",
  hostname: listen.slice(0, colon),
  port: Number(listen.slice(colon + 1)),
});
const local = conn.addr as Deno.NetAddr;
console.log(`baseline responder listening on ${local.hostname}:${local.port}`);

// Stop cleanly (so that `--cpu-prof` writes its profile).
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  try {
    Deno.addSignalListener(signal, () => conn.close());
  } catch {
    // no such signal on this system
  }
}

const RR0 = new Uint8Array([0x52, 0x52, 0x30]);
const RD0 = new Uint8Array([0x52, 0x44, 0x30]);
const buffer = new Uint8Array(2048);
const P = 0x50;

for (;;) {
  let bytes: Uint8Array, from: Deno.Addr;
  try {
    [bytes, from] = await conn.receive(buffer);
  } catch (error) {
    if (error instanceof Deno.errors.BadResource) break;
    continue; // an ICMP error about an earlier send
  }
  if (bytes.length < 2 || bytes[0] !== P) continue;
  let answer: Uint8Array;
  switch (bytes[1]) {
    case 0x52: // PR
      answer = RR0;
      break;
    case 0x44: // PD
      answer = RD0;
      break;
    case 0x4c: // PL
      answer = new Uint8Array(bytes.length + 1);
      answer[0] = 0x52, answer[1] = 0x4c, answer[2] = 0x32;
      answer.set(bytes.subarray(2), 3);
      break;
    default:
      continue;
  }
  conn.send(answer, from).catch(() => {});
}
