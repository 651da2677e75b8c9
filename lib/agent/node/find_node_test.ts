import assert from "#assert";
import type { DnsClient } from "../../transport/dns.ts";
import { NodeNotFoundError } from "../errors.ts";
import { locateNode, locateNodes } from "./find_node.ts";

function dnsWith(a: (name: string) => Promise<string[]>): DnsClient {
  return {
    a: async (name) => ({ records: await a(name), ttl: 60 }),
    srv: () => Promise.resolve({ records: [], ttl: 60 }),
  };
}

Deno.test("without an SRV record, the node of a domain is its first A record, port 3344", async () => {
  const asked: string[] = [];
  const dns = dnsWith((name) => {
    asked.push(name);
    return Promise.resolve(["10.0.0.7", "10.0.0.8"]);
  });
  assert.deepEqual(await locateNode("bb.com", dns), { ip: "10.0.0.7", port: 3344 });
  assert.deepEqual(asked, ["bb.com"]);
});

Deno.test("an SRV record names the node's host and port, before any A record of the domain", async () => {
  const dns: DnsClient = {
    srv: (name) =>
      Promise.resolve({
        records: name === "_plumi._udp.bb.com"
          ? [
            { priority: 20, weight: 1, port: 4000, target: "backup.bb.com" },
            { priority: 10, weight: 1, port: 3999, target: "lumi.bb.com" },
          ]
          : [],
        ttl: 60,
      }),
    a: (name) =>
      Promise.resolve({ records: name === "lumi.bb.com" ? ["10.0.0.9"] : ["10.0.0.1"], ttl: 60 }),
  };
  assert.deepEqual(await locateNode("bb.com", dns), { ip: "10.0.0.9", port: 3999 });
});

Deno.test("a domain without an A record is reported as not found", async () => {
  const error = await locateNode("nowhere.example", dnsWith(() => Promise.resolve([]))).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(error instanceof NodeNotFoundError);
  assert.equal(error.domain, "nowhere.example");
  assert.match(error.message, /domain nowhere\.example not found/);
});

Deno.test("a failing DNS server is reported as not found, with the cause kept", async () => {
  const cause = new Error("server timed out");
  const error = await locateNode("bb.com", dnsWith(() => Promise.reject(cause))).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(error instanceof NodeNotFoundError);
  assert.equal(error.cause, cause);
  assert.match(error.message, /server timed out/);
});

Deno.test("every SRV target of the domain is one of its node's endpoints, best first", async () => {
  const dns: DnsClient = {
    srv: () =>
      Promise.resolve({
        records: [
          { priority: 20, weight: 1, port: 4000, target: "backup.bb.com" },
          { priority: 10, weight: 1, port: 3999, target: "lumi.bb.com" },
        ],
        ttl: 60,
      }),
    a: (name) =>
      Promise.resolve({ records: name === "lumi.bb.com" ? ["10.0.0.9"] : ["10.0.0.2"], ttl: 60 }),
  };
  assert.deepEqual(await locateNodes("bb.com", dns), [
    { ip: "10.0.0.9", port: 3999 },
    { ip: "10.0.0.2", port: 4000 },
  ]);
});
