/**
 * Which IP the agent advertises in `RL0…:<ip>:<port>`: an address a peer can
 * reach, the one of the interface used towards the node. Never `0.0.0.0`.
 *
 * @module
 */

/** The parts of `Deno.NetworkInterfaceInfo` used here. */
export interface InterfaceAddress {
  readonly family: "IPv4" | "IPv6";
  readonly address: string;
  readonly netmask: string;
  /** Optional; when absent, loopback addresses count as internal. */
  readonly internal?: boolean;
}

function toNumber(ip: string): number | undefined {
  const parts = ip.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = value * 256 + n;
  }
  return value;
}

/** Is `ip` in 127.0.0.0/8? */
export function isLoopback(ip: string): boolean {
  return ip.startsWith("127.");
}

function sameSubnet(a: number, b: number, mask: number): boolean {
  // `>>> 0` keeps the 32-bit AND unsigned.
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

/**
 * Choose the IP to advertise for a node at `nodeIp`:
 * a loopback node → `127.0.0.1`; otherwise the IPv4 interface whose subnet
 * contains the node; else the first non-internal IPv4 interface; else
 * `127.0.0.1`.
 *
 * @example
 * ```ts
 * chooseAdvertiseIp("10.0.0.7", [{ family: "IPv4", address: "10.0.0.5", netmask: "255.255.255.0" }]);
 * // "10.0.0.5"
 * ```
 */
export function chooseAdvertiseIp(
  nodeIp: string,
  interfaces: readonly InterfaceAddress[],
): string {
  if (isLoopback(nodeIp)) return "127.0.0.1";
  const node = toNumber(nodeIp);
  const v4 = interfaces.filter((i) =>
    i.family === "IPv4" && toNumber(i.address) !== undefined && i.address !== "0.0.0.0"
  );
  if (node !== undefined) {
    for (const candidate of v4) {
      const address = toNumber(candidate.address)!;
      const mask = toNumber(candidate.netmask);
      if (mask !== undefined && mask !== 0 && sameSubnet(address, node, mask)) {
        return candidate.address;
      }
    }
  }
  const external = v4.find((i) => !(i.internal ?? isLoopback(i.address)));
  return external?.address ?? "127.0.0.1";
}
