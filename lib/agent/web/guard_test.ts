import assert from "#assert";
import { allowedHosts, checkRequest, isLoopback, newToken, tokenMatches } from "./guard.ts";

const token = newToken();
const hosts = allowedHosts({ ip: "127.0.0.1", port: 8340 });

function request(url: string, headers: Record<string, string>): Request {
  return new Request(url, { headers });
}

Deno.test("a token is 64 hex digits, fresh each time, and only the same one matches", () => {
  assert.match(token, /^[0-9a-f]{64}$/);
  assert.notEqual(newToken(), token);
  assert.equal(tokenMatches(token, token), true);
  assert.equal(tokenMatches(token, null), false);
  assert.equal(tokenMatches(token, ""), false);
  assert.equal(tokenMatches(token, token.slice(0, -1)), false);
  assert.equal(
    tokenMatches(token, `${token.slice(0, -1)}${token.endsWith("0") ? "1" : "0"}`),
    false,
  );
});

Deno.test("the page needs the token and this server's own Host (no DNS rebinding)", () => {
  const url = `http://127.0.0.1:8340/?token=${token}`;
  assert.equal(
    checkRequest(request(url, { host: "127.0.0.1:8340" }), hosts, token),
    undefined,
  );
  assert.equal(
    checkRequest(request(url, { host: "localhost:8340" }), hosts, token),
    undefined,
  );
  assert.equal(
    checkRequest(request(url, { host: "evil.test:8340" }), hosts, token),
    "host",
  );
  assert.equal(checkRequest(request(url, { host: "127.0.0.1:8341" }), hosts, token), "host");
  assert.equal(
    checkRequest(
      request("http://127.0.0.1:8340/", { host: "127.0.0.1:8340" }),
      hosts,
      token,
    ),
    "token",
  );
  assert.equal(
    checkRequest(request(`${url}x`, { host: "127.0.0.1:8340" }), hosts, token),
    "token",
  );
});

Deno.test("a request from a page needs an Origin of this server (no cross-site hijacking)", () => {
  const url = `http://127.0.0.1:8340/ws?token=${token}`;
  const at = (origin?: string) =>
    checkRequest(
      request(url, { host: "127.0.0.1:8340", ...(origin !== undefined && { origin }) }),
      hosts,
      token,
    );
  assert.equal(at("http://127.0.0.1:8340"), undefined);
  assert.equal(at("http://localhost:8340"), undefined);
  // A program with the token (no browser, so no Origin) may connect.
  assert.equal(at(), undefined);
  assert.equal(at("http://evil.test"), "origin");
  assert.equal(at("https://127.0.0.1:8340"), "origin");
  assert.equal(at("null"), "origin");
});

Deno.test("loopback is 127.0.0.0/8 and ::1; a non-loopback server accepts only its own IP", () => {
  assert.equal(isLoopback("127.0.36.2"), true);
  assert.equal(isLoopback("::1"), true);
  assert.equal(isLoopback("0.0.0.0"), false);
  assert.equal(isLoopback("192.0.2.1"), false);
  assert.deepEqual([...allowedHosts({ ip: "192.0.2.1", port: 80 })], ["192.0.2.1:80", "192.0.2.1"]);
});
