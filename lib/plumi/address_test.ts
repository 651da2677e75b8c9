import { deepStrictEqual, strictEqual } from "#assert";
import {
  formatAddress,
  formatEndpoint,
  isValidDomain,
  isValidName,
  normalizeDomain,
  parseAddress,
  parseEndpoint,
  parseIp,
  parsePort,
} from "./address.ts";

Deno.test("parseAddress splits name@domain", () => {
  deepStrictEqual(parseAddress("laura@bb.com"), {
    ok: true,
    value: { name: "laura", domain: "bb.com" },
  });
  deepStrictEqual(parseAddress("u1@PC-c"), { ok: true, value: { name: "u1", domain: "PC-c" } });
});

Deno.test("parseAddress splits at the first @ and then rejects the domain", () => {
  const result = parseAddress("a@b@c");
  strictEqual(result.ok, false);
  if (!result.ok) strictEqual(result.kind, "bad-domain");
});

Deno.test("parseAddress reports the precise kind of error", () => {
  const cases: [string, string][] = [
    ["", "missing-at"],
    ["laura", "missing-at"],
    ["laura.bb.com", "missing-at"],
    ["@bb.com", "bad-name"],
    ["la ura@bb.com", "bad-name"],
    ["la:ura@bb.com", "bad-name"],
    ["la;ura@bb.com", "bad-name"],
    ["laura@", "bad-domain"],
    ["laura@bb..com", "bad-domain"],
    ["laura@bb.com;v=2", "bad-domain"],
  ];
  for (const [text, kind] of cases) {
    const result = parseAddress(text);
    strictEqual(result.ok, false, text);
    if (!result.ok) {
      strictEqual(result.kind, kind, text);
      strictEqual(result.message.includes(text), true, result.message);
    }
  }
});

Deno.test("isValidName accepts 1 to 64 printable ASCII characters except space, @ : ; and the config's = # [ ]", () => {
  for (
    const name of [
      "a",
      "u1",
      "Laura",
      "n".repeat(64),
      "a.b-c_d+e",
      "!\"$%&'()*+,-./<>?\\^_`{|}~",
    ]
  ) {
    strictEqual(isValidName(name), true, name);
  }
  for (
    const name of [
      "",
      "n".repeat(65),
      "a b",
      "a@b",
      "a:b",
      "a;b",
      "a=b",
      "#x",
      "x#",
      "[x]",
      "a[b",
      "a]b",
      "a\tb",
      "a\x7fb",
      "làura",
      "a\nb",
    ]
  ) {
    strictEqual(isValidName(name), false, JSON.stringify(name));
  }
});

Deno.test("isValidDomain accepts DNS-like names of letters, digits, _ and -", () => {
  const label63 = "d".repeat(63);
  const longest = [label63, label63, label63, "d".repeat(61)].join(".");
  strictEqual(longest.length, 253);
  for (
    const domain of [
      "a",
      "PC-c",
      "bb.com",
      "bb.com.",
      "_srv.example",
      "1.2.3.4",
      "b-.c",
      `${label63}.com`,
      longest,
    ]
  ) {
    strictEqual(isValidDomain(domain), true, domain);
  }
  for (
    const domain of [
      "",
      ".",
      ".com",
      "bb..com",
      "-bb.com",
      "bb.-com",
      "bb.com..",
      "b b.com",
      "bb/com",
      "bb:com",
      "bb;com",
      "bb@com",
      "bàb.com",
      `${"d".repeat(64)}.com`,
      `${longest}d`,
      `${longest}.`,
    ]
  ) {
    strictEqual(isValidDomain(domain), false, domain);
  }
});

Deno.test("formatAddress is the inverse of parseAddress", () => {
  for (const text of ["laura@bb.com", "u1@PC-c", "x@y."]) {
    const result = parseAddress(text);
    if (!result.ok) throw new Error(result.message);
    strictEqual(formatAddress(result.value), text);
  }
});

Deno.test("normalizeDomain lowers case and drops one trailing dot", () => {
  strictEqual(normalizeDomain("BB.Com."), "bb.com");
  strictEqual(normalizeDomain("PC-c"), "pc-c");
  strictEqual(normalizeDomain("bb.com"), "bb.com");
});

Deno.test("parseIp accepts dotted-quad IPv4 without leading zeros", () => {
  for (const ip of ["0.0.0.0", "127.0.0.1", "10.100.100.102", "255.255.255.255", "1.20.199.249"]) {
    deepStrictEqual(parseIp(ip), { ok: true, value: ip });
  }
});

Deno.test("parseIp rejects anything but dotted-quad IPv4", () => {
  for (
    const ip of [
      "",
      "256.1.1.1",
      "1.256.1.1",
      "1.2.3.300",
      "1.2.3",
      "1.2.3.4.5",
      "a.b.c.d",
      "1.2.3.x",
      "01.2.3.4",
      "1.2.3.04",
      "::1",
      "1.2.3.4 ",
      "localhost",
    ]
  ) {
    const result = parseIp(ip);
    strictEqual(result.ok, false, ip);
    if (!result.ok) strictEqual(result.kind, "bad-ip");
  }
});

Deno.test("parsePort accepts 1 to 65535 in plain decimal", () => {
  for (const [text, port] of [["1", 1], ["80", 80], ["3344", 3344], ["65535", 65535]] as const) {
    deepStrictEqual(parsePort(text), { ok: true, value: port });
  }
});

Deno.test("parsePort rejects 0, out-of-range, leading zeros, signs and letters", () => {
  for (
    const text of [
      "",
      "0",
      "00",
      "080",
      "65536",
      "99999",
      "100000",
      "-1",
      "+1",
      "1.5",
      "1e3",
      "x",
      " 1",
    ]
  ) {
    const result = parsePort(text);
    strictEqual(result.ok, false, text);
    if (!result.ok) strictEqual(result.kind, "bad-port");
  }
});

Deno.test("parseEndpoint reads ip:port", () => {
  deepStrictEqual(parseEndpoint("10.100.100.102:43038"), {
    ok: true,
    value: { ip: "10.100.100.102", port: 43038 },
  });
});

Deno.test("parseEndpoint reports a bad IP or a bad or missing port", () => {
  const cases: [string, string][] = [
    ["127.0.0.1", "bad-port"],
    ["127.0.0.1:", "bad-port"],
    ["127.0.0.1:0", "bad-port"],
    ["127.0.0.1:65536", "bad-port"],
    [":3344", "bad-ip"],
    ["256.0.0.1:3344", "bad-ip"],
    ["localhost:3344", "bad-ip"],
    ["1.2.3.4:5:6", "bad-ip"],
  ];
  for (const [text, kind] of cases) {
    const result = parseEndpoint(text);
    strictEqual(result.ok, false, text);
    if (!result.ok) strictEqual(result.kind, kind, text);
  }
});

Deno.test("formatEndpoint is the inverse of parseEndpoint", () => {
  strictEqual(formatEndpoint({ ip: "127.0.0.1", port: 3344 }), "127.0.0.1:3344");
  const result = parseEndpoint("10.0.0.1:1");
  if (!result.ok) throw new Error(result.message);
  strictEqual(formatEndpoint(result.value), "10.0.0.1:1");
});
