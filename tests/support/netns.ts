/**
 * A real NAT in network namespaces, for tests: a "public" namespace
 * (203.0.113.0/24), a router that masquerades (`nft`) the "home" namespace
 * (192.0.2.0/24) behind its public address, and nothing else — documentation
 * addresses only, no route to the host's network. Names are unique per run,
 * and everything is deleted on dispose, even after a failure.
 *
 * ```
 * public 203.0.113.1 ── 203.0.113.2 router 192.0.2.1 ── 192.0.2.2 home
 *                                   (masquerade)
 * ```
 *
 * @module
 */

import { stderrLine } from "./node_harness.ts";
import type { ChildProcess } from "./process.ts";

/** The addresses of the lab. */
export const NAT_ADDRESSES = {
  public: "203.0.113.1",
  routerPublic: "203.0.113.2",
  routerHome: "192.0.2.1",
  home: "192.0.2.2",
} as const;

async function sh(args: string[], input?: string): Promise<string> {
  const child = new Deno.Command(args[0]!, {
    args: args.slice(1),
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(input));
    await writer.close();
  }
  const out = await child.output();
  if (!out.success) {
    throw new Error(
      `${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return new TextDecoder().decode(out.stdout);
}

/** Three namespaces joined by two veth pairs, the router masquerading home behind public. */
export class NatLab implements AsyncDisposable {
  /** Namespace names. */
  readonly public: string;
  readonly router: string;
  readonly home: string;
  readonly #made: string[] = [];

  private constructor(id: string) {
    this.public = `lumi-pub-${id}`;
    this.router = `lumi-rtr-${id}`;
    this.home = `lumi-home-${id}`;
  }

  /** Build the lab; on any failure what was made is deleted and the error thrown. */
  static async create(): Promise<NatLab> {
    const id = crypto.randomUUID().slice(0, 6);
    const lab = new NatLab(id);
    try {
      await lab.#build(id);
    } catch (error) {
      await lab[Symbol.asyncDispose]();
      throw error;
    }
    return lab;
  }

  /** The command prefix that runs a program in namespace `ns`. */
  exec(ns: string): string[] {
    return ["ip", "netns", "exec", ns];
  }

  /** The router's nft counters (masqueraded packets): the NAT was really crossed. */
  async masqueraded(): Promise<number> {
    const out = await sh([...this.exec(this.router), "nft", "list", "chain", "ip", "lumi", "post"]);
    const match = out.match(/packets (\d+)/);
    return match ? Number(match[1]) : 0;
  }

  async #build(id: string): Promise<void> {
    const { public: pub, router, home } = this;
    for (const ns of [pub, router, home]) {
      await sh(["ip", "netns", "add", ns]);
      this.#made.push(ns);
      await sh([...this.exec(ns), "ip", "link", "set", "lo", "up"]);
    }
    // Interface names are at most 15 characters.
    const a = `lp${id}`, b = `lr${id}`, c = `lh${id}`, d = `lk${id}`;
    await sh([
      "ip",
      "link",
      "add",
      a,
      "netns",
      pub,
      "type",
      "veth",
      "peer",
      "name",
      b,
      "netns",
      router,
    ]);
    await sh([
      "ip",
      "link",
      "add",
      c,
      "netns",
      home,
      "type",
      "veth",
      "peer",
      "name",
      d,
      "netns",
      router,
    ]);
    const A = NAT_ADDRESSES;
    await sh([...this.exec(pub), "ip", "addr", "add", `${A.public}/24`, "dev", a]);
    await sh([...this.exec(router), "ip", "addr", "add", `${A.routerPublic}/24`, "dev", b]);
    await sh([...this.exec(router), "ip", "addr", "add", `${A.routerHome}/24`, "dev", d]);
    await sh([...this.exec(home), "ip", "addr", "add", `${A.home}/24`, "dev", c]);
    for (const [ns, dev] of [[pub, a], [router, b], [router, d], [home, c]] as const) {
      await sh([...this.exec(ns), "ip", "link", "set", dev, "up"]);
    }
    await sh([...this.exec(home), "ip", "route", "add", "default", "via", A.routerHome]);
    await sh([...this.exec(router), "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    // The public side has no route to 192.0.2.0/24: only what home opened comes back (NAT).
    await sh(
      [...this.exec(router), "nft", "-f", "-"],
      [
        "table ip lumi {",
        "  chain post {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        `    oifname "${b}" ip saddr 192.0.2.0/24 counter masquerade`,
        "  }",
        "  chain through {",
        "    type filter hook forward priority filter; policy drop;",
        `    iifname "${d}" oifname "${b}" accept`,
        `    iifname "${b}" oifname "${d}" ct state established,related accept`,
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  }

  /** Delete the namespaces (and with them the veth pairs and rules). */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const ns of this.#made.splice(0).reverse()) {
      await sh(["ip", "netns", "del", ns]).catch(() => {});
    }
  }
}

/**
 * Alice (public) calls Bob (home, behind the lab's NAT): the direct
 * connection fails, they meet at the relay of `relayNode`, chat both ways
 * encrypted, and Alice leaves. Then checks that the relay session carried
 * far more than the clear frames would be (the Noise handshake and sealed
 * lines: the relay saw only ciphertext), and that Bob's packets were
 * masqueraded.
 */
export async function chatThroughNat(
  lab: NatLab,
  alice: ChildProcess,
  bob: ChildProcess,
  addresses: { readonly alice: string; readonly bob: string },
  relayNode: ChildProcess,
): Promise<void> {
  const [a, b] = [escapeRegExp(addresses.alice), escapeRegExp(addresses.bob)];
  await alice.send(addresses.bob);
  await alice.waitFor(new RegExp(`^No direct connection to ${b} \\(.*\\); trying the relay`));
  await bob.waitFor(new RegExp(`^${a} calls through the relay of our node\\.\\.\\.$`));
  await alice.waitFor(new RegExp(`^Connected to Bob \\(${b}\\)$`));
  await alice.waitFor(new RegExp(`^Conversation with Bob \\(${b}\\): encrypted`));
  await bob.waitFor(new RegExp(`^Incoming call from Alice \\(${a}\\)$`));
  await alice.send("hello");
  await bob.waitFor(/^Alice: hello$/);
  await bob.send("hi there");
  await alice.waitFor(/^Bob: hi there$/);
  await alice.send("/exit");
  await bob.waitFor(/^Conversation with Alice ended/);
  const line = await stderrLine(
    { child: relayNode },
    new RegExp(`Relay session "${a}" -> "${b}" ended`),
  );
  // The nicknames, then the Noise handshake and the sealed lines: far more than the 16 and 17
  // bytes the clear frames would be (N05Alice + L05hello, N03Bob + L08hi there).
  const counts = line.match(
    /ended \("closed"\): (\d+) bytes from the caller, (\d+) from the callee/,
  );
  if (!counts || Number(counts[1]) <= 100 || Number(counts[2]) <= 100) {
    throw new Error(`the relay did not carry the encrypted conversation: ${line}`);
  }
  if (await lab.masqueraded() === 0) throw new Error("nothing was masqueraded");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
