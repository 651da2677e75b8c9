import { deepStrictEqual, strictEqual } from "#assert";
import {
  decodePlumi,
  encodePlumi,
  formatPlumi,
  MAX_PACKET_BYTES,
  type PlumiErrorKind,
  type PlumiMessage,
  printable,
} from "./mod.ts";

const encoder = new TextEncoder();
const bytes = (text: string): Uint8Array => encoder.encode(text);

/** Decode `text`, assert it is `expected`, and that it encodes back to the same bytes. */
function roundTrip(text: string, expected: PlumiMessage): void {
  const result = decodePlumi(bytes(text));
  if (!result.ok) throw new Error(`"${text}" was rejected: ${result.error.message}`);
  deepStrictEqual(result.message, expected);
  strictEqual(formatPlumi(result.message), text);
  deepStrictEqual(encodePlumi(result.message), bytes(text));
}

/** Decode `input` and assert it is rejected with `kind`. */
function rejects(input: string | Uint8Array, kind: PlumiErrorKind, maxBytes?: number): void {
  const data = typeof input === "string" ? bytes(input) : input;
  const result = decodePlumi(data, maxBytes === undefined ? {} : { maxBytes });
  if (result.ok) {
    throw new Error(`"${printable(data)}" was accepted as ${JSON.stringify(result.message)}`);
  }
  strictEqual(result.error.kind, kind, `"${printable(data)}": ${result.error.message}`);
  strictEqual(typeof result.error.message, "string");
  strictEqual(result.error.message.length > 0, true);
}

const ENDPOINT = { ip: "10.100.100.102", port: 43038 };

// --- The example exchange of the reference, packet by packet -------------------

Deno.test("decoder reads PRu1@PC-c as a registration and re-encodes it byte for byte", () => {
  roundTrip("PRu1@PC-c", { kind: "register", address: "u1@PC-c", params: [] });
  strictEqual(encodePlumi({ kind: "register", address: "u1@PC-c", params: [] }).length, 9);
});

Deno.test("decoder reads RR0 and RR1 as registration replies", () => {
  roundTrip("RR0", { kind: "register-reply", code: 0, params: [] });
  roundTrip("RR1", { kind: "register-reply", code: 1, params: [] });
});

Deno.test("decoder reads PLu1@PC-c:u2@PC-d as a look-up of 17 bytes", () => {
  roundTrip("PLu1@PC-c:u2@PC-d", { kind: "lookup", from: "u1@PC-c", to: "u2@PC-d" });
  strictEqual(encodePlumi({ kind: "lookup", from: "u1@PC-c", to: "u2@PC-d" }).length, 17);
});

Deno.test("decoder reads RL0 with the callee's endpoint as a 39-byte look-up answer", () => {
  const text = "RL0u1@PC-c:u2@PC-d:10.100.100.102:43038";
  strictEqual(text.length, 39);
  roundTrip(text, {
    kind: "lookup-reply",
    code: 0,
    from: "u1@PC-c",
    to: "u2@PC-d",
    endpoint: ENDPOINT,
    extra: [],
  });
});

Deno.test("decoder reads RL1, RL2 and RL3 without an endpoint", () => {
  for (const code of [1, 2, 3] as const) {
    roundTrip(`RL${code}u1@PC-c:u2@PC-d`, {
      kind: "lookup-reply",
      code,
      from: "u1@PC-c",
      to: "u2@PC-d",
      extra: [],
    });
  }
});

Deno.test("decoder reads RL1, RL2 and RL3 that carry an endpoint anyway", () => {
  for (const code of [1, 2, 3] as const) {
    roundTrip(`RL${code}u1@PC-c:u2@PC-d:10.100.100.102:43038`, {
      kind: "lookup-reply",
      code,
      from: "u1@PC-c",
      to: "u2@PC-d",
      endpoint: ENDPOINT,
      extra: [],
    });
  }
});

Deno.test("decoder reads PDu1@PC-c, RD0 and RD1", () => {
  roundTrip("PDu1@PC-c", { kind: "deregister", address: "u1@PC-c", params: [] });
  roundTrip("RD0", { kind: "deregister-reply", code: 0, params: [] });
  roundTrip("RD1", { kind: "deregister-reply", code: 1, params: [] });
});

Deno.test("encoder writes every message kind as the reference's text", () => {
  const cases: [PlumiMessage, string][] = [
    [{ kind: "register", address: "laura@bb.com", params: [] }, "PRlaura@bb.com"],
    [{ kind: "register-reply", code: 0, params: [] }, "RR0"],
    [{ kind: "register-reply", code: 1, params: [] }, "RR1"],
    [{ kind: "deregister", address: "laura@bb.com", params: [] }, "PDlaura@bb.com"],
    [{ kind: "deregister-reply", code: 0, params: [] }, "RD0"],
    [{ kind: "deregister-reply", code: 1, params: [] }, "RD1"],
    [{ kind: "lookup", from: "a@x.org", to: "b@y.org" }, "PLa@x.org:b@y.org"],
    [
      { kind: "lookup-reply", code: 3, from: "a@x.org", to: "b@y.org", extra: [] },
      "RL3a@x.org:b@y.org",
    ],
    [
      {
        kind: "lookup-reply",
        code: 0,
        from: "a@x.org",
        to: "b@y.org",
        endpoint: { ip: "127.0.0.1", port: 1 },
        extra: ["f=1"],
      },
      "RL0a@x.org:b@y.org:127.0.0.1:1:f=1",
    ],
  ];
  for (const [message, text] of cases) {
    strictEqual(formatPlumi(message), text);
    deepStrictEqual(encodePlumi(message), bytes(text));
  }
});

// --- Extensions -----------------------------------------------------------------

Deno.test("decoder keeps PR extension parameters and re-encodes them", () => {
  roundTrip("PRlaura@bb.com;v=2", { kind: "register", address: "laura@bb.com", params: ["v=2"] });
  roundTrip("PRlaura@bb.com;v=2;key=abc", {
    kind: "register",
    address: "laura@bb.com",
    params: ["v=2", "key=abc"],
  });
  roundTrip("PDlaura@bb.com;v=2", {
    kind: "deregister",
    address: "laura@bb.com",
    params: ["v=2"],
  });
});

Deno.test("decoder keeps RR0 extension parameters and re-encodes them", () => {
  roundTrip("RR0;v=2;hb=30", { kind: "register-reply", code: 0, params: ["v=2", "hb=30"] });
  roundTrip("RR1;v=2", { kind: "register-reply", code: 1, params: ["v=2"] });
  roundTrip("RD0;v=2", { kind: "deregister-reply", code: 0, params: ["v=2"] });
});

Deno.test("decoder drops empty parameters, so ;; and a trailing ; re-encode without them", () => {
  const cases: [string, string][] = [
    ["PRlaura@bb.com;", "PRlaura@bb.com"],
    ["PRlaura@bb.com;;v=2", "PRlaura@bb.com;v=2"],
    ["RR0;v=2;;hb=30;", "RR0;v=2;hb=30"],
    ["RD1;", "RD1"],
  ];
  for (const [input, canonical] of cases) {
    const result = decodePlumi(bytes(input));
    if (!result.ok) throw new Error(result.error.message);
    strictEqual(formatPlumi(result.message), canonical);
  }
});

Deno.test("decoder keeps RL fields after the port as extra fields and re-encodes them", () => {
  roundTrip("RL0u1@PC-c:u2@PC-d:10.100.100.102:43038:v=2", {
    kind: "lookup-reply",
    code: 0,
    from: "u1@PC-c",
    to: "u2@PC-d",
    endpoint: ENDPOINT,
    extra: ["v=2"],
  });
  roundTrip("RL0u1@PC-c:u2@PC-d:10.100.100.102:43038:v=2::x y", {
    kind: "lookup-reply",
    code: 0,
    from: "u1@PC-c",
    to: "u2@PC-d",
    endpoint: ENDPOINT,
    extra: ["v=2", "", "x y"],
  });
  roundTrip("RL0u1@PC-c:u2@PC-d:10.100.100.102:43038:", {
    kind: "lookup-reply",
    code: 0,
    from: "u1@PC-c",
    to: "u2@PC-d",
    endpoint: ENDPOINT,
    extra: [""],
  });
});

// --- Size and bytes ---------------------------------------------------------------

Deno.test("decoder rejects an empty datagram", () => {
  rejects(new Uint8Array(0), "empty");
});

Deno.test("decoder accepts 100 bytes and rejects 101 bytes as too long", () => {
  const from = `${"a".repeat(40)}@b.com`;
  const to100 = `${"c".repeat(45)}@d.com`;
  const text100 = `PL${from}:${to100}`;
  strictEqual(text100.length, MAX_PACKET_BYTES);
  roundTrip(text100, { kind: "lookup", from, to: to100 });
  const text101 = `PL${from}:c${to100}`;
  strictEqual(text101.length, 101);
  rejects(text101, "too-long");
});

Deno.test("decoder honours the maxBytes option in both directions", () => {
  const text101 = `PL${"a".repeat(40)}@b.com:${"c".repeat(46)}@d.com`;
  const result = decodePlumi(bytes(text101), { maxBytes: 200 });
  strictEqual(result.ok, true);
  rejects("RR0", "too-long", 2);
  rejects("RR0", "too-long", 0);
  strictEqual(decodePlumi(bytes("RR0"), { maxBytes: 3 }).ok, true);
});

Deno.test("decoder checks the length before the content", () => {
  rejects(new Uint8Array(101).fill(0xff), "too-long");
});

Deno.test("decoder rejects bytes outside printable ASCII", () => {
  for (const bad of [0x80, 0xff, 0x00, 0x09, 0x0a, 0x0d, 0x1f, 0x7f]) {
    rejects(new Uint8Array([0x52, 0x52, 0x30, bad]), "non-ascii");
    rejects(new Uint8Array([bad, 0x52, 0x30]), "non-ascii");
  }
  rejects("PRlàura@bb.com", "non-ascii");
  rejects("PRlaura@bb.com;v=ü", "non-ascii");
  rejects("RR0\n", "non-ascii");
});

Deno.test("decoder error for a non-ASCII byte names its offset", () => {
  const result = decodePlumi(new Uint8Array([0x52, 0x52, 0x30, 0x80]));
  strictEqual(result.ok, false);
  if (!result.ok) strictEqual(result.error.message.includes("offset 3"), true);
});

// --- Type and codes ---------------------------------------------------------------

Deno.test("decoder rejects unknown packet types", () => {
  for (const text of ["XX", "P", "R", "pr", "rr0", "PX", "RX0", "PAu1@PC-c", "RZ0", " RR0", "LP"]) {
    rejects(text, "unknown-type");
  }
});

Deno.test("decoder rejects RR and RD codes other than 0 and 1", () => {
  for (const text of ["RR", "RR2", "RR9", "RRx", "RR;v=2", "RD", "RD2", "RD-1"]) {
    rejects(text, "bad-code");
  }
});

Deno.test("decoder rejects RL codes other than 0 to 3", () => {
  for (
    const text of [
      "RL",
      "RL4u1@PC-c:u2@PC-d",
      "RL9u1@PC-c:u2@PC-d",
      "RLxu1@PC-c:u2@PC-d",
      "RL/u1@PC-c:u2@PC-d",
      "RLu1@PC-c:u2@PC-d",
    ]
  ) {
    rejects(text, "bad-code");
  }
});

// --- Structure --------------------------------------------------------------------

Deno.test("decoder rejects addresses without @", () => {
  for (
    const text of [
      "PR",
      "PRu1",
      "PRu1PC-c",
      "PDu1",
      "PLu1:u2@PC-d",
      "PLu1@PC-c:u2",
      "PL:",
      "RL1u1:u2@PC-d",
      "RL0u1@PC-c:u2:10.100.100.102:43038",
    ]
  ) {
    rejects(text, "missing-at");
  }
});

Deno.test("decoder rejects look-ups and answers without : between the addresses", () => {
  for (const text of ["PL", "PLu1@PC-c", "PLu1@PC-cu2@PC-d", "RL0", "RL1u1@PC-c", "RL2"]) {
    rejects(text, "missing-colon");
  }
});

Deno.test("decoder rejects an answer with an IP but no :port", () => {
  rejects("RL0u1@PC-c:u2@PC-d:10.100.100.102", "missing-colon");
  rejects("RL1u1@PC-c:u2@PC-d:10.100.100.102", "missing-colon");
  rejects("RL2u1@PC-c:u2@PC-d:", "missing-colon");
});

Deno.test("decoder rejects RL0 without an endpoint", () => {
  rejects("RL0u1@PC-c:u2@PC-d", "missing-endpoint");
});

Deno.test("decoder rejects trailing data after a code or a callee", () => {
  for (
    const text of [
      "RR0x",
      "RR00",
      "RR1 ",
      "RD0x",
      "RD0:v=2",
      "PLu1@PC-c:u2@PC-d:u3@PC-e",
      "PLu1@PC-c:u2@PC-d:",
      "PLu1@PC-c:u2@PC-d:10.100.100.102:43038",
    ]
  ) {
    rejects(text, "trailing-data");
  }
});

// --- Fields -----------------------------------------------------------------------

Deno.test("decoder rejects bad IP addresses in RL", () => {
  for (
    const ip of [
      "256.1.1.1",
      "1.2.3",
      "1.2.3.4.5",
      "a.b.c.d",
      "localhost",
      "01.2.3.4",
      "1.2.3.-4",
      "",
      " 1.2.3.4",
      "1..3.4",
    ]
  ) {
    rejects(`RL0u1@PC-c:u2@PC-d:${ip}:43038`, "bad-ip");
  }
});

Deno.test("decoder rejects bad ports in RL", () => {
  for (
    const port of ["0", "65536", "99999", "123456", "abc", "", "-1", "+80", "080", "1e3", " 80"]
  ) {
    rejects(`RL0u1@PC-c:u2@PC-d:10.100.100.102:${port}`, "bad-port");
  }
});

Deno.test("decoder accepts the extreme ports 1 and 65535", () => {
  for (const port of [1, 65535]) {
    roundTrip(`RL0u1@PC-c:u2@PC-d:0.0.0.0:${port}`, {
      kind: "lookup-reply",
      code: 0,
      from: "u1@PC-c",
      to: "u2@PC-d",
      endpoint: { ip: "0.0.0.0", port },
      extra: [],
    });
  }
});

Deno.test("decoder rejects bad user names", () => {
  for (
    const text of [
      "PR@PC-c",
      "PRa b@PC-c",
      `PR${"n".repeat(65)}@PC-c`,
      "PL@PC-c:u2@PC-d",
      "PLu1@PC-c:@PC-d",
      "RL1u1@PC-c:u 2@PC-d",
    ]
  ) {
    rejects(text, "bad-name");
  }
});

Deno.test("decoder rejects bad domains", () => {
  for (
    const text of [
      "PRu1@",
      "PRu1@.com",
      "PRu1@bb..com",
      "PRu1@-bb.com",
      "PRu1@bb.-com",
      "PRu1@b b.com",
      "PRu1@bb.com@x",
      "PRu1@bb.com:x",
      "PRu1@bb/com",
      `PRu@${"d".repeat(64)}`,
      "PLu1@PC-c:u2@",
      "PLu1@:u2@PC-d",
      "RL2u1@PC-c:u2@PC!d",
      "PDu1@bb.com..",
    ]
  ) {
    rejects(text, "bad-domain");
  }
});

Deno.test("decoder accepts the widest names and domains the rules allow", () => {
  roundTrip("PR!$%&'*+-/?^_`{|}~.@a", {
    kind: "register",
    address: "!$%&'*+-/?^_`{|}~.@a",
    params: [],
  });
  const name64 = "n".repeat(64);
  roundTrip(`PR${name64}@x`, { kind: "register", address: `${name64}@x`, params: [] });
  const label63 = "d".repeat(63);
  roundTrip(`PRu@${label63}.com.`, { kind: "register", address: `u@${label63}.com.`, params: [] });
  roundTrip("PRu@_srv.b-.9", { kind: "register", address: "u@_srv.b-.9", params: [] });
});

Deno.test("printable escapes control and non-ASCII bytes and cuts long input", () => {
  strictEqual(printable(new Uint8Array([0x52, 0x00, 0x7f, 0xff])), "R\\x00\\x7f\\xff");
  strictEqual(printable(bytes("RR0"), 2), "RR…");
  strictEqual(printable(new Uint8Array(0)), "");
});
