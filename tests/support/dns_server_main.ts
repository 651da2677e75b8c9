/**
 * A DNS server process for the federation tests, on the `dns2` package from
 * npm (so the tests need nothing beyond what Deno installs itself).
 *
 * Usage: `dns_server_main.ts '<zone JSON>'`. Prints
 * `DNS server listening on 127.0.0.1:PORT`, then `query[TYPE] name` for
 * every query it receives. Names under the zone's local domains that it does
 * not know get NXDOMAIN; other names get REFUSED, as a server that is not
 * authoritative for them.
 *
 * @module
 */

// deno-lint-ignore-file no-explicit-any
import dns2 from "#dns2";
import type { Zone } from "./dns_server.ts";

const { Packet } = dns2;
const zone: Zone = JSON.parse(Deno.args[0] ?? "{}");
const ttl = zone.ttl ?? 60;
const local = zone.localDomains ?? ["test"];
const TYPE_NAMES: Record<number, string> = { 1: "A", 5: "CNAME", 6: "SOA", 28: "AAAA", 33: "SRV" };

function isLocal(name: string): boolean {
  return local.some((d) => name === d || name.endsWith(`.${d}`));
}

const server = dns2.createServer({
  udp: true,
  handle(request: any, send: (response: any) => void) {
    const response: any = Packet.createResponseFromRequest(request);
    const question = request.questions[0];
    const name = String(question?.name ?? "").toLowerCase().replace(/\.$/, "");
    console.log(`query[${TYPE_NAMES[question?.type] ?? question?.type}] ${name}`);
    const a = zone.a?.[name];
    const srv = (zone.srv ?? []).filter((s) => s.name === name);
    if (question?.type === Packet.TYPE.A && a) {
      response.answers.push({ name, type: Packet.TYPE.A, class: Packet.CLASS.IN, ttl, address: a });
    } else if (question?.type === Packet.TYPE.SRV && srv.length > 0) {
      for (const s of srv) {
        response.answers.push({
          name,
          type: Packet.TYPE.SRV,
          class: Packet.CLASS.IN,
          ttl,
          priority: s.priority,
          weight: s.weight,
          port: s.port,
          target: s.target,
        });
      }
    } else if (!a && srv.length === 0) {
      response.header.rcode = isLocal(name) ? 3 : 5;
    }
    send(response);
  },
});

server.on("listening", () => {
  const { udp } = server.addresses() as { udp: { address: string; port: number } };
  console.log(`DNS server listening on ${udp.address}:${udp.port}`);
});
await server.listen({ udp: { port: 0, address: "127.0.0.1" } });
