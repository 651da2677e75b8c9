import assert from "#assert";
import { chooseAdvertiseIp, type InterfaceAddress } from "./advertise.ts";

const interfaces: InterfaceAddress[] = [
  { family: "IPv4", address: "127.0.0.1", netmask: "255.0.0.0", internal: true },
  { family: "IPv6", address: "fe80::1", netmask: "ffff:ffff:ffff:ffff::" },
  { family: "IPv4", address: "192.168.1.20", netmask: "255.255.255.0", internal: false },
  { family: "IPv4", address: "10.100.100.102", netmask: "255.255.0.0", internal: false },
];

Deno.test("a node on loopback gets 127.0.0.1 advertised", () => {
  assert.equal(chooseAdvertiseIp("127.0.0.1", interfaces), "127.0.0.1");
  assert.equal(chooseAdvertiseIp("127.0.0.7", interfaces), "127.0.0.1");
});

Deno.test("the interface whose subnet holds the node is advertised", () => {
  assert.equal(chooseAdvertiseIp("10.100.3.4", interfaces), "10.100.100.102");
  assert.equal(chooseAdvertiseIp("192.168.1.1", interfaces), "192.168.1.20");
});

Deno.test("a node elsewhere gets the first non-internal IPv4 address, never 0.0.0.0", () => {
  assert.equal(chooseAdvertiseIp("8.8.8.8", interfaces), "192.168.1.20");
  assert.equal(
    chooseAdvertiseIp("8.8.8.8", [{ family: "IPv4", address: "0.0.0.0", netmask: "0.0.0.0" }]),
    "127.0.0.1",
  );
  assert.equal(chooseAdvertiseIp("8.8.8.8", []), "127.0.0.1");
});
