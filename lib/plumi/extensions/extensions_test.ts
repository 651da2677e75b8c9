import { deepStrictEqual as assertEquals, ok as assert } from "#assert";
import { decodePlumi, formatPlumi } from "../codec.ts";
import { REDACTED, redactSecrets } from "../secrets.ts";
import {
  EXTENSION_LETTERS,
  EXTENSION_TYPES,
  MAX_EXTENDED_PACKET_BYTES,
  type PlumiMessage,
} from "../messages.ts";
import {
  BuddyChangeExt,
  BuddyStatusExt,
  type Decoded,
  DeregisterExt,
  EXT_ERRORS,
  type ExtensionDefinition,
  EXTENSIONS,
  HeartbeatExt,
  type MessageInfo,
  OnlineExt,
  PARAM_PROBLEMS,
  PresenceExt,
  RegisterExt,
  SignUpExt,
  V2_MESSAGES,
  wantsReplace,
} from "./mod.ts";

type AnyDefinition = ExtensionDefinition<unknown, unknown, PlumiMessage, PlumiMessage>;
const any = (d: MessageInfo) => d as unknown as AnyDefinition;

const wire = (text: string): PlumiMessage => {
  const r = decodePlumi(new TextEncoder().encode(text), {
    maxExtendedBytes: MAX_EXTENDED_PACKET_BYTES,
  });
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r.message;
};

const isRequest = (text: string) => text.startsWith("P");

/** Decode `text` with `definition`, as the node (a request) or the agent (a reply) does. */
function decode(definition: MessageInfo, text: string): Decoded<unknown> {
  const d = any(definition);
  return isRequest(text) ? d.decodeRequest(wire(text)) : d.decodeReply(wire(text));
}

function encode(definition: MessageInfo, text: string, value: unknown): string {
  const d = any(definition);
  return formatPlumi(isRequest(text) ? d.encodeRequest(value) : d.encodeReply(value));
}

Deno.test("every extension letter has one definition, and the letters are listed once", () => {
  assertEquals(EXTENSION_TYPES.join(""), "KUBSOPYIVJMFW");
  assertEquals(Object.keys(EXTENSIONS), Object.keys(EXTENSION_LETTERS));
  for (const [letter, definition] of Object.entries(EXTENSIONS)) {
    assertEquals([definition.request, definition.reply], [`P${letter}`, `R${letter}`]);
  }
});

Deno.test("every example of every message decodes and encodes back byte for byte", () => {
  for (const definition of V2_MESSAGES) {
    for (const text of definition.examples) {
      const decoded = decode(definition, text);
      assert(decoded.ok, `${text}: ${!decoded.ok && decoded.error.message}`);
      if (!decoded.ok) continue;
      if ("pad" in (decoded.value as object)) throw new Error("padding is never decoded");
      // The first PR's padding is not part of its value: encode it back with the same padding.
      const value = text.includes(";x=")
        ? { ...(decoded.value as object), pad: { dashes: text.length - text.indexOf(";x=") - 3 } }
        : decoded.value;
      assertEquals(encode(definition, text, value), text, definition.name);
    }
  }
});

Deno.test("typed values round-trip: encode, then decode, gives the value back", () => {
  const cases: Array<[AnyDefinition, "request" | "reply", unknown]> = [
    [any(HeartbeatExt), "request", { address: "laura@bb.com", busy: true }],
    [any(HeartbeatExt), "request", { address: "laura@bb.com", busy: false }],
    [any(HeartbeatExt), "reply", { kind: "alive", mark: "3.1.0" }],
    [any(HeartbeatExt), "reply", { kind: "alive" }],
    [any(HeartbeatExt), "reply", { kind: "unknown" }],
    [any(HeartbeatExt), "reply", { kind: "replaced", at: { ip: "10.0.0.1", port: 9 } }],
    [any(RegisterExt), "request", { address: "a@b.c", replace: true }],
    [any(RegisterExt), "request", {
      address: "a@b.c",
      replace: false,
      proof: { nonce: "AAAA", proof: "BBBB" },
    }],
    [any(RegisterExt), "reply", {
      kind: "granted",
      nodeKey: "KKKK",
      mac: "MMMM",
      heartbeatSeconds: 30,
      signupOpen: true,
      onlineList: false,
    }],
    [any(RegisterExt), "reply", {
      kind: "challenge",
      nonce: "AAAA",
      salt: "BBBB",
      iterations: 600000,
    }],
    [any(RegisterExt), "reply", {
      kind: "refused",
      error: "signed-in",
      at: { ip: "1.2.3.4", port: 5 },
    }],
    [any(RegisterExt), "reply", { kind: "original", registered: true }],
    [any(DeregisterExt), "request", { address: "a@b.c" }],
    [any(DeregisterExt), "reply", { kind: "done" }],
    [any(DeregisterExt), "reply", { kind: "refused", error: "replaced" }],
    [any(SignUpExt), "request", {
      address: "n@b.c",
      salt: "AAAAAAAAAAAAAAAAAAAAAA",
      iterations: 100000,
      storedKey: "BBBB",
    }],
    [any(SignUpExt), "reply", { kind: "refused", error: "rate" }],
    [any(BuddyChangeExt), "request", { address: "a@b.c", op: "del", buddy: "x,y@c.d" }],
    [any(BuddyChangeExt), "reply", { kind: "refused", error: "full" }],
    [any(BuddyStatusExt), "request", { address: "a@b.c", page: 3, history: true }],
    [any(BuddyStatusExt), "request", { address: "a@b.c", history: false }],
    [any(BuddyStatusExt), "reply", {
      kind: "page",
      page: 1,
      pages: 2,
      history: true,
      entries: [
        {
          address: "jo,an@bb.com",
          state: "busy",
          endpoint: { ip: "10.0.0.7", port: 4001 },
          seq: 7,
          trail: ["on", "off", "busy"],
        },
        { address: "pere@cc.com", state: "?" },
      ],
    }],
    [any(OnlineExt), "request", { address: "a@b.c", cursor: "" }],
    [any(OnlineExt), "request", { address: "a@b.c", page: 2 }],
    [any(OnlineExt), "reply", { kind: "numbered", page: 2, pages: 2, names: ["a", "b"] }],
    [any(OnlineExt), "reply", { kind: "after", names: ["a", "b"], next: "b" }],
    [any(OnlineExt), "reply", { kind: "after", names: [] }],
    [any(PresenceExt), "request", { buddy: "joan@cc.com", watcher: "laura@bb.com" }],
    [any(PresenceExt), "reply", {
      watcher: "laura@bb.com",
      buddy: "joan@cc.com",
      answer: "not-shared",
    }],
  ];
  for (const [definition, side, value] of cases) {
    const message = side === "request"
      ? definition.encodeRequest(value)
      : definition.encodeReply(value);
    // Through the wire too: the codec must accept what the definition writes.
    const again = wire(formatPlumi(message));
    const decoded = side === "request"
      ? definition.decodeRequest(again)
      : definition.decodeReply(again);
    assertEquals(decoded, { ok: true, value }, `${definition.name}: ${formatPlumi(message)}`);
  }
});

/** The keys a message's examples carry that its definition reads (not padding). */
function definedKeys(definition: MessageInfo, text: string): string[] {
  const keys = new Set(definition.fields.map((f) => f.key));
  return text.split(";").slice(1).map((p) => p.split("=")[0]!).filter((k) =>
    keys.has(k) && k !== "x" && k !== "b" && k !== "u"
  );
}

function expectFailure(definition: MessageInfo, text: string, problems: string[]): void {
  let decoded: Decoded<unknown>;
  try {
    decoded = decode(definition, text);
  } catch (error) {
    throw new Error(`${text} threw`, { cause: error });
  }
  assert(!decoded.ok, `${text} decoded`);
  if (decoded.ok) return;
  assert(problems.includes(decoded.error.problem), `${text}: ${decoded.error.problem}`);
  assert((PARAM_PROBLEMS as readonly string[]).includes(decoded.error.problem));
  assert(decoded.error.message.length > 0);
}

Deno.test("a defined parameter given twice is a failure, never a throw", () => {
  for (const definition of V2_MESSAGES) {
    for (const text of definition.examples) {
      for (const key of definedKeys(definition, text)) {
        const param = text.split(";").find((p) => p.split("=")[0] === key)!;
        expectFailure(definition, `${text};${param}`, ["repeated"]);
      }
    }
  }
});

Deno.test("a defined parameter too long is a failure, never a throw", () => {
  for (const definition of V2_MESSAGES) {
    for (const text of definition.examples) {
      for (const key of definedKeys(definition, text)) {
        const field = definition.fields.find((f) => f.key === key && f.kind !== "flag")!;
        if (!field || key === "c" && text.startsWith("RO")) continue;
        const long = text.split(";").map((p) =>
          p.split("=")[0] === key ? `${key}=${"A".repeat(field.max + 1)}` : p
        ).join(";");
        if (long.length > MAX_EXTENDED_PACKET_BYTES) continue;
        expectFailure(definition, long, ["too-long", "malformed", "unknown-code"]);
      }
    }
  }
});

Deno.test("a request without its required parameters is a failure, never a throw", () => {
  const cases: Array<[MessageInfo, string]> = [
    [SignUpExt, "PUnuria@bb.com"],
    [SignUpExt, "PUnuria@bb.com;s=AAAA;i=600000"],
    [BuddyChangeExt, "PBlaura@bb.com;op=add"],
    [BuddyChangeExt, "PBlaura@bb.com;b=joan@cc.com"],
    [PresenceExt, "PPjoan@cc.com;x=---"],
    [RegisterExt, "PRlaura@bb.com;n=AAAA;p=BBBB"],
    [RegisterExt, "RR0;v=2;hb=30;m=AAAAAAAAAAAAAAAA"],
    [RegisterExt, "RR1;v=2;e=auth;n=AAAA;s=BBBB"],
    [RegisterExt, "RR1;v=2"],
    [BuddyStatusExt, "RS0;b=on,1.2.3.4,5,a@b.c"],
    [BuddyStatusExt, "RS1"],
    [OnlineExt, "RO1"],
    [PresenceExt, "RP0;w=laura@bb.com"],
  ];
  for (const [definition, text] of cases) expectFailure(definition, text, ["missing"]);
});

Deno.test("malformed values and unknown codes are failures, never a throw", () => {
  const cases: Array<[MessageInfo, string]> = [
    [HeartbeatExt, "PKlaura@bb.com;st=a b"],
    [HeartbeatExt, "PKlaura@bb.com;st=idle"],
    [HeartbeatExt, "RK1;e=replaced;at=1.2.3.4"],
    [HeartbeatExt, "RK1;e=taken"],
    [HeartbeatExt, "RK2"],
    [RegisterExt, "PRlaura@bb.com;v=2;replace=yes"],
    [RegisterExt, "PRlaura@bb.com;v=2;n=A;p=B"],
    [RegisterExt, "RR0;v=2;k=KKKK;hb=-1;m=AAAAAAAAAAAAAAAA"],
    [RegisterExt, "RR0;v=2;k=KKKK;su=yes;m=AAAAAAAAAAAAAAAA"],
    [RegisterExt, "RR1;v=2;e=auth;n=AAAA;s=BBBB;i=1e5"],
    [RegisterExt, "RR1;v=2;e=what"],
    [DeregisterExt, "RD1;v=2;e=taken"],
    [SignUpExt, "PUnuria@bb.com;s=AAAA;i=0600000;k=BBBB"],
    [SignUpExt, "RU1;e=rate"],
    [SignUpExt, "RU5"],
    [BuddyChangeExt, "PBlaura@bb.com;op=ADD;b=joan@cc.com"],
    [BuddyChangeExt, "PBlaura@bb.com;op=add;b=joan"],
    [BuddyStatusExt, "PSlaura@bb.com;p=1.5"],
    [BuddyStatusExt, "RS0;p=2/1"],
    [BuddyStatusExt, "RS0;p=1/1;b=gone,,,a@b.c"],
    [BuddyStatusExt, "RS0;p=1/1;b=on,1.2.3.4,,a@b.c"],
    [BuddyStatusExt, "RS0;p=1/1;b=on,1.2.3.4,5"],
    [BuddyStatusExt, "RS0;p=1/1;h=1;b=on,1.2.3.4,5,x,on,a@b.c"],
    [BuddyStatusExt, "RS0;p=1/1;h=1;b=on,1.2.3.4,5,9,on.away,a@b.c"],
    [OnlineExt, "POlaura@bb.com;c=a b"],
    [OnlineExt, "RO0;u=;u=b"],
    [OnlineExt, "RO1;e=self"],
    [PresenceExt, "PPjoan@cc.com;w=laura"],
    [PresenceExt, "RP5;w=laura@bb.com;b=joan@cc.com"],
    [PresenceExt, "RP0;w=laura@bb.com;b=joan@cc.com;at=1.2.3.4:0"],
  ];
  for (const [definition, text] of cases) {
    expectFailure(definition, text, ["malformed", "unknown-code", "too-long"]);
  }
});

Deno.test("parameters a message does not define are ignored", () => {
  assertEquals(
    any(HeartbeatExt).decodeRequest(wire("PKlaura@bb.com;zz=1;x=--;st=busy;later")),
    { ok: true, value: { address: "laura@bb.com", busy: true } },
  );
  assertEquals(
    any(BuddyChangeExt).decodeReply(wire("RB0;e=whatever;q")),
    { ok: true, value: { kind: "done" } },
  );
});

Deno.test("a message of another type is a failure", () => {
  expectFailure(HeartbeatExt, "PBlaura@bb.com", ["malformed"]);
  expectFailure(SignUpExt, "RK0", ["malformed"]);
});

Deno.test("replace is read as the registration reads it", () => {
  const pr = (params: string[]) => ({ kind: "register" as const, address: "a@b.c", params });
  assertEquals(wantsReplace(pr(["v=2", "replace"])), true);
  assertEquals(wantsReplace(pr(["v=2"])), false);
  assertEquals(wantsReplace(pr(["v=2", "replace", "replace"])), false);
  assertEquals(wantsReplace(pr(["replace"])), false);
});

Deno.test("the first PR is padded to 100 bytes, the node's probe with 40 dashes", () => {
  const first = RegisterExt.encodeRequest({
    address: "laura@bb.com",
    replace: false,
    pad: { toBytes: 100 },
  });
  assertEquals(formatPlumi(first).length, 100);
  const long = RegisterExt.encodeRequest({
    address: `${"n".repeat(64)}@${"d".repeat(40)}.com`,
    replace: false,
    pad: { toBytes: 100 },
  });
  assertEquals(long.params, ["v=2"]); // no room left: not padded
});

Deno.test("every e= code is in the table, and every code of the table is some answer's", () => {
  const used = new Set<string>();
  for (const definition of V2_MESSAGES) {
    for (const field of definition.fields) {
      if (field.key === "e") field.words!.forEach((w) => used.add(w));
    }
    for (const text of definition.examples) {
      for (const code of text.matchAll(/;e=([^;]*)/g)) {
        assert((EXT_ERRORS as readonly string[]).includes(code[1]!), code[1]);
      }
    }
  }
  assertEquals([...used].sort(), [...EXT_ERRORS].sort());
});

Deno.test("a status page holds what fits in 512 bytes, and a page past the last is the last", () => {
  const entries = Array.from({ length: 40 }, (_, i) => ({
    address: `buddy-number-${i}@some.domain.example`,
    state: "on" as const,
    endpoint: { ip: "10.0.0.1", port: 40000 + i },
  }));
  const first = BuddyStatusExt.encodePage(entries, undefined, false);
  assert(formatPlumi(first).length <= MAX_EXTENDED_PACKET_BYTES);
  const decoded = BuddyStatusExt.decodeReply(first);
  assert(decoded.ok && decoded.value.kind === "page");
  if (!decoded.ok || decoded.value.kind !== "page") return;
  const { pages } = decoded.value;
  assert(pages > 1);
  const last = BuddyStatusExt.decodeReply(BuddyStatusExt.encodePage(entries, 999, false));
  assert(last.ok && last.value.kind === "page" && last.value.page === pages);
  let seen = 0;
  for (let p = 1; p <= pages; p++) {
    const page = BuddyStatusExt.decodeReply(BuddyStatusExt.encodePage(entries, p, false));
    if (page.ok && page.value.kind === "page") seen += page.value.entries.length;
  }
  assertEquals(seen, entries.length);
});

Deno.test("every secret field of every message is hidden in the packet logs", () => {
  let hidden = 0;
  for (const definition of V2_MESSAGES) {
    const secrets = definition.fields.filter((f) => f.secret).map((f) => f.key);
    for (const text of definition.examples) {
      const params = text.split(";").slice(1);
      const shown = redactSecrets(text).split(";").slice(1);
      params.forEach((p, i) => {
        const key = p.split("=")[0]!;
        if (!secrets.includes(key)) return;
        assertEquals(shown[i], `${key}=${REDACTED}`, `${definition.name}: ${text}`);
        hidden++;
      });
    }
  }
  assert(hidden >= 8, `${hidden} secrets seen`);
});
