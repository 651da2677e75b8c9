import { strictEqual } from "#assert";
import type { NodeLocator } from "../locate.ts";
import type { Endpoint } from "../plumi/address.ts";
import { decodePlumi } from "../plumi/codec.ts";
import { MAX_EXTENDED_PACKET_BYTES, type PlumiMessage } from "../plumi/messages.ts";
import { amplifies, claimedNode, type Inbound, isNodeOf } from "./guards.ts";

const AGENT: Endpoint = { ip: "10.0.0.1", port: 4001 };
const NODE_C: Endpoint = { ip: "10.0.0.200", port: 3344 };

function message(text: string): PlumiMessage {
  const decoded = decodePlumi(new TextEncoder().encode(text), {
    maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES,
  });
  if (!decoded.ok) throw new Error(`bad test packet ${text}`);
  return decoded.message;
}

Deno.test("an answer to an unregistered source may be one byte longer than its request, not two", () => {
  const request: Inbound = { from: AGENT, size: 20, registered: false };
  strictEqual(amplifies(21, AGENT, request), false);
  strictEqual(amplifies(22, AGENT, request), true);
  // A registered source, another destination, or the node's own message: no bound.
  strictEqual(amplifies(500, AGENT, { ...request, registered: true }), false);
  strictEqual(amplifies(500, NODE_C, request), false);
  strictEqual(amplifies(500, AGENT, undefined), false);
});

Deno.test("presence answers and queries claim the node of the buddy's and the watcher's domain", () => {
  strictEqual(claimedNode(message("RP0;w=laura@bb.com;b=pere@cc.com")), "cc.com");
  strictEqual(claimedNode(message("PPpere@cc.com;w=laura@bb.com;x=--")), "bb.com");
  strictEqual(claimedNode(message("PPpere@cc.com;x=--")), "");
  strictEqual(claimedNode(message("PLlaura@bb.com:pere@cc.com")), undefined);
  strictEqual(claimedNode(message("PKlaura@bb.com;t=abc")), undefined);
});

Deno.test("a source is a domain's node only if the domain's nodes are found there", async () => {
  const locator: NodeLocator = {
    locate: (domain) => Promise.resolve(domain === "cc.com" ? [NODE_C] : []),
    reportDown: () => {},
  };
  strictEqual(await isNodeOf(locator, "cc.com", NODE_C), true);
  strictEqual(await isNodeOf(locator, "cc.com", AGENT), false);
  strictEqual(await isNodeOf(locator, "dd.com", NODE_C), false);
  strictEqual(await isNodeOf(locator, "", NODE_C), false);
});
