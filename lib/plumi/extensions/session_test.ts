import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import { x25519 } from "#curves/ed25519.js";
import { toBase64Url } from "../../auth.ts";
import { decodePlumi, formatPlumi } from "../codec.ts";
import type { ExtensionRequest } from "../messages.ts";
import {
  acceptCounter,
  COUNTER_WINDOW,
  deriveSessionKey,
  macMatches,
  macOf,
  newSessionKeyPair,
  NO_COUNTER,
  RequestSealer,
  seal,
  unseal,
} from "./session.ts";

const KEY = new Uint8Array(32).fill(7);
const bytes = (text: string) => new TextEncoder().encode(text).length;

function request(text: string): ExtensionRequest {
  const decoded = decodePlumi(new TextEncoder().encode(text), { maxExtendedBytes: 512 });
  if (!decoded.ok || decoded.message.kind !== "ext-request") throw new Error(text);
  return decoded.message;
}

Deno.test("both sides derive the same session key; another key or storedKey gives another", () => {
  const agent = newSessionKeyPair();
  const node = newSessionKeyPair();
  const common = { address: "laura@bb.com", agentKey: agent.publicKey, nodeKey: node.publicKey };
  const bind = new Uint8Array(32).fill(1);
  const mine = deriveSessionKey({
    ...common,
    secretKey: agent.secretKey,
    peerKey: node.publicKey,
    bind,
  });
  const its = deriveSessionKey({
    ...common,
    secretKey: node.secretKey,
    peerKey: agent.publicKey,
    bind,
  });
  assert(mine && its);
  assertEquals(mine, its);
  const unbound = deriveSessionKey({
    ...common,
    secretKey: agent.secretKey,
    peerKey: node.publicKey,
  });
  assert(unbound && formatKey(unbound) !== formatKey(mine!));
  // A small-order point (all zero) or a short key is no key.
  const zero = "A".repeat(43);
  assertEquals(
    deriveSessionKey({ ...common, secretKey: agent.secretKey, peerKey: zero }),
    undefined,
  );
  assertEquals(
    deriveSessionKey({ ...common, secretKey: agent.secretKey, peerKey: "AAAA" }),
    undefined,
  );
});

function formatKey(key: Uint8Array): string {
  return [...key].join(",");
}

Deno.test("a sealed request ends with q= and m=, and unseals to its body over exactly its bytes", () => {
  const body = request("PBlaura@bb.com;op=add;b=joan@cc.com");
  const sealed = seal(body, KEY, 5);
  const text = formatPlumi(sealed);
  assert(/^PBlaura@bb\.com;op=add;b=joan@cc\.com;q=5;m=[\w-]{16}$/.test(text), text);
  const open = unseal(request(text), bytes(text));
  if (!open) throw new Error(`${text} is not sealed`);
  assertEquals(open.counter, 5);
  assertEquals(open.body, body);
  assert(macMatches(KEY, open.signed, open.mac));
  // Changed anywhere: the MAC fails, or it is no seal at all.
  const changed = unseal(request(text.replace("joan", "pere")), bytes(text));
  assert(changed && !macMatches(KEY, changed.signed, changed.mac));
  const counter = text.replace(";q=5;", ";q=6;");
  const recounted = unseal(request(counter), bytes(counter));
  assert(recounted && !macMatches(KEY, recounted.signed, recounted.mac));
  // An empty parameter the codec drops: not the bytes the MAC covered, so no seal.
  const padded = text.replace(";op=", ";;op=");
  assertEquals(unseal(request(padded), bytes(padded)), undefined);
  // Not last, twice, or missing.
  for (
    const bad of [
      "PKlaura@bb.com;m=AAAAAAAAAAAAAAAA;q=1",
      "PKlaura@bb.com;q=1;q=2;m=AAAAAAAAAAAAAAAA",
      "PKlaura@bb.com;q=0;m=AAAAAAAAAAAAAAAA",
      "PKlaura@bb.com;q=1;m=AAAA",
      "PKlaura@bb.com",
    ]
  ) assertEquals(unseal(request(bad), bytes(bad)), undefined, bad);
});

Deno.test("the counter window takes each counter once, in any order within the window", () => {
  let window = NO_COUNTER;
  const take = (counter: number) => {
    const next = acceptCounter(window, counter);
    if (next) window = next;
    return next !== undefined;
  };
  assert(take(2));
  assert(take(1));
  assert(!take(1));
  assert(!take(2));
  assert(take(100));
  assert(take(100 - COUNTER_WINDOW + 1));
  assert(!take(100 - COUNTER_WINDOW));
  assert(!take(100));
  assert(take(101));
});

Deno.test("the agent's sealer gives every datagram the next counter", () => {
  const sealer = new RequestSealer(KEY);
  const body = request("PKlaura@bb.com");
  const first = formatPlumi(sealer.seal(body));
  const second = formatPlumi(sealer.seal(body));
  assert(first.includes(";q=1;") && second.includes(";q=2;"), `${first} ${second}`);
  assertEquals(sealer.counter, 2);
});

Deno.test("the example of docs/PROTOCOL.md, byte by byte", () => {
  const a = new Uint8Array(32).fill(1);
  const n = new Uint8Array(32).fill(2);
  const agentKey = toBase64Url(new Uint8Array(x25519.getPublicKey(a)));
  const nodeKey = toBase64Url(new Uint8Array(x25519.getPublicKey(n)));
  assertEquals(agentKey, "pOCSkrZRwni5dyxWn1-puxPZBrRqtoyd-dwrRAn4ogk");
  assertEquals(nodeKey, "zo060cy2M-x7cMF4FKXHbs0CloUFDTRHRboFhw5YfVk");
  const key = deriveSessionKey({
    secretKey: a,
    peerKey: nodeKey,
    address: "laura@bb.com",
    agentKey,
    nodeKey,
  })!;
  assertEquals(toBase64Url(new Uint8Array(key)), "r57T_OYSfvvGbhKqxwLOMjsYP6SNzKvyyLnyJzFtY2c");
  assertEquals(macOf(key, `RR0;v=2;k=${nodeKey};hb=30;su=0;ol=1;ik=1`), "8bhSkJwtlawj5tfM");
  const beat = seal(request("PKlaura@bb.com"), key, 1);
  assertEquals(formatPlumi(beat), "PKlaura@bb.com;q=1;m=h-3tLpy3r-2Tu9ai");
  const add = seal(request("PBlaura@bb.com;op=add;b=joan@cc.com"), key, 2);
  assertEquals(formatPlumi(add), "PBlaura@bb.com;op=add;b=joan@cc.com;q=2;m=Dq9O9MtUJX64Fmxu");
});
