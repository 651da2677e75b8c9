import { deepStrictEqual, strictEqual, throws } from "#assert";
import { NAME_RULE } from "../plumi/address.ts";
import { ConfigError, isIniForm, type NodeConfig, parseConfig, renderConfig } from "./config.ts";

/** Assert that parsing `text` fails at `line` with exactly `message`. */
function fails(text: string, line: number, message: string): void {
  throws(() => parseConfig(text), (error: unknown) => {
    if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${error}`);
    strictEqual(error.line, line);
    strictEqual(error.message, message);
    strictEqual(error.reason, message.slice(`line ${line}: `.length));
    strictEqual(error.name, "ConfigError");
    return true;
  }, `${JSON.stringify(text)} was accepted`);
}

Deno.test("original form: first word the domain, every other word a user", () => {
  deepStrictEqual(parseConfig("bb.com laura joan"), {
    format: "original",
    domain: "bb.com",
    users: ["laura", "joan"],
    domains: new Map(),
  });
});

Deno.test("original form: words may be spread over lines, with CRLF and extra blanks", () => {
  const config = parseConfig("  PC-d\r\n\r\nu1   u2\tu3\r\nu4\r\n");
  strictEqual(config.format, "original");
  strictEqual(config.domain, "PC-d");
  deepStrictEqual(config.users, ["u1", "u2", "u3", "u4"]);
});

Deno.test("original form: a domain alone is a domain without users", () => {
  const config = parseConfig("bb.com\n");
  strictEqual(config.domain, "bb.com");
  deepStrictEqual(config.users, []);
});

Deno.test("an empty file names no domain (the node then uses the machine's name)", () => {
  const config = parseConfig("");
  strictEqual(config.domain, undefined);
  deepStrictEqual(config.users, []);
  strictEqual(parseConfig("; only a comment\n\n").domain, undefined);
});

Deno.test("original form: comments after ; or # are ignored", () => {
  const config = parseConfig("# our domain\nbb.com ; the node\nlaura # boss\njoan\n");
  deepStrictEqual([config.format, config.domain, config.users], [
    "original",
    "bb.com",
    ["laura", "joan"],
  ]);
});

Deno.test("original form errors name the line and the reason", () => {
  fails("bb..com laura", 1, `line 1: "bb..com" is not a valid domain name`);
  fails(
    "bb.com\nlaura\njoan@bb.com",
    3,
    `line 3: "joan@bb.com" is not a valid user name (${NAME_RULE})`,
  );
  fails(
    "bb.com laura\njo:an",
    2,
    `line 2: "jo:an" is not a valid user name (${NAME_RULE})`,
  );
  fails("bb.com laura\n\njoan laura", 3, `line 3: user "laura" is listed twice`);
  fails(
    `bb.com ${"x".repeat(65)}`,
    1,
    `line 1: "${"x".repeat(65)}" is not a valid user name (${NAME_RULE})`,
  );
});

const FULL_INI = `; LUMI node
domain = bb.com
listen = 127.0.0.1:0
log = node.log
state = off
dns-server = 127.0.0.1:5353

[limits]
offline-after = 3

[domains]
CC.com = 127.0.0.3:3344   ; the other node
dd.com=127.0.0.4:4000

[users]
laura
joan  pere
`;

Deno.test("INI form: every setting", () => {
  const expected: NodeConfig = {
    format: "ini",
    domain: "bb.com",
    users: ["laura", "joan", "pere"],
    domains: new Map([
      ["cc.com", { ip: "127.0.0.3", port: 3344 }],
      ["dd.com", { ip: "127.0.0.4", port: 4000 }],
    ]),
    listen: { ip: "127.0.0.1", port: 0 },
    log: "node.log",
    state: false,
    dnsServer: { ip: "127.0.0.1", port: 5353 },
    offlineAfter: 3,
  };
  deepStrictEqual(parseConfig(FULL_INI), expected);
});

Deno.test("INI form: settings are optional, [node] is the same as no section", () => {
  deepStrictEqual(parseConfig("[node]\ndomain = PC-c\n[users]\nu1\n"), {
    format: "ini",
    domain: "PC-c",
    users: ["u1"],
    domains: new Map(),
  });
  deepStrictEqual(parseConfig("[users]\nu1\n"), {
    format: "ini",
    domain: undefined,
    users: ["u1"],
    domains: new Map(),
  });
  strictEqual(parseConfig("log = on.log\n").log, "on.log");
  strictEqual(parseConfig("LOG = off\n").log, false);
});

Deno.test("the form is told by a [section] or a key = value line", () => {
  strictEqual(isIniForm("bb.com laura joan\n"), false);
  strictEqual(isIniForm("bb.com\n; [users] in a comment\n"), false);
  strictEqual(isIniForm("[users]\n"), true);
  strictEqual(isIniForm("domain=bb.com"), true);
});

Deno.test("INI form errors name the line and the reason", () => {
  fails(
    "domain = bb.com\n[people]\n",
    2,
    "line 2: unknown section [people] (known: node, limits, accounts, log, metrics, relay, mailbox, cluster, domains, users)",
  );
  fails("domain = bb.com\njust words\n", 2, `line 2: expected "key = value", got "just words"`);
  fails(
    "\n\ncolour = red\n",
    3,
    `line 3: unknown setting "colour" (known: domain, listen, log, state, dns-server)`,
  );
  fails("domain = bb..com\n", 1, `line 1: "bb..com" is not a valid domain name`);
  fails("domain = \n", 1, `line 1: "" is not a valid domain name`);
  fails(
    "listen = 127.0.0.1\n",
    1,
    `line 1: listen: "127.0.0.1" has no ":port" (expected IPv4:port)`,
  );
  fails(
    "listen = 127.0.0.1:99999\n",
    1,
    `line 1: listen: "99999" is not a port number (1-65535) (expected IPv4:port)`,
  );
  fails(
    "listen = localhost:3344\n",
    1,
    `line 1: listen: "localhost" is not an IPv4 address (expected IPv4:port)`,
  );
  fails(
    "dns-server = 127.0.0.1:0\n",
    1,
    `line 1: dns-server: "0" is not a port number (1-65535) (expected IPv4:port)`,
  );
  fails("log =\n", 1, `line 1: log needs a file name, or "off"`);
  fails("state = \n", 1, `line 1: state needs a file name, or "off"`);
  fails("[limits]\noffline-after = 0\n", 2, "line 2: offline-after must be a whole number 1-1000");
  fails(
    "[limits]\noffline-after = 2.5\n",
    2,
    "line 2: offline-after must be a whole number 1-1000",
  );
  fails(
    "[limits]\noffline-after = 1001\n",
    2,
    "line 2: offline-after must be a whole number 1-1000",
  );
  fails(
    "[limits]\nusers = 5\n",
    2,
    `line 2: unknown limit "users" (known: offline-after, rate-limit, rate-window, ban, heartbeat, expire-original, max-buddies, exempt-limit, exempt)`,
  );
  fails(
    "[domains]\ncc.com = 127.0.0.3:0\n",
    2,
    `line 2: cc.com: "0" is not a port number (1-65535) (expected IPv4:port)`,
  );
  fails(
    "[domains]\ncc_ = nowhere\n",
    2,
    `line 2: cc_: "nowhere" has no ":port" (expected IPv4:port)`,
  );
  fails(
    "[domains]\nx = 1.2.3.4:5\ncc..com = 1.2.3.4:5\n",
    3,
    `line 3: "cc..com" is not a valid domain name`,
  );
  fails(
    "[domains]\n.cc.com = 1.2.3.4:5\n",
    2,
    `line 2: expected "key = value", got ".cc.com = 1.2.3.4:5"`,
  );
  fails("[users]\nlaura\nlaura\n", 3, `line 3: user "laura" is listed twice`);
  fails(
    "[users]\nlaura\njo;an\n",
    3,
    `line 3: "jo;an" is not a valid user name (${NAME_RULE})`,
  );
});

Deno.test("renderConfig writes the original form back whole, one user per line", () => {
  const text = "bb.com laura joan\n";
  const rendered = renderConfig(text, "original", "bb.com", ["laura", "joan", "marta"]);
  strictEqual(rendered, "bb.com\nlaura\njoan\nmarta\n");
  deepStrictEqual(parseConfig(rendered), {
    format: "original",
    domain: "bb.com",
    users: ["laura", "joan", "marta"],
    domains: new Map(),
  });
  strictEqual(renderConfig(rendered, "original", "bb.com", []), "bb.com\n");
});

Deno.test("renderConfig in the INI form replaces only the [users] section", () => {
  const rendered = renderConfig(FULL_INI, "ini", "bb.com", ["laura", "marta"]);
  strictEqual(rendered, FULL_INI.replace("laura\njoan  pere\n", "laura\nmarta\n"));
  const before = parseConfig(FULL_INI);
  deepStrictEqual(parseConfig(rendered), { ...before, users: ["laura", "marta"] });
});

Deno.test("renderConfig in the INI form keeps the sections and comments after [users]", () => {
  const text = "domain = bb.com\n[users] ; who may register\nlaura\n\n; other nodes\n[domains]\n" +
    "cc.com = 127.0.0.3:3344\n";
  const rendered = renderConfig(text, "ini", "bb.com", ["laura", "joan"]);
  strictEqual(
    rendered,
    "domain = bb.com\n[users] ; who may register\nlaura\njoan\n\n; other nodes\n[domains]\n" +
      "cc.com = 127.0.0.3:3344\n",
  );
  deepStrictEqual(parseConfig(rendered).users, ["laura", "joan"]);
  deepStrictEqual(parseConfig(rendered).domains, parseConfig(text).domains);
});

Deno.test("renderConfig in the INI form keeps comment lines inside [users]", () => {
  const text = "[users]\n; one name per line\nlaura joan ; founders\n; staff\npere\n";
  strictEqual(
    renderConfig(text, "ini", "bb.com", ["laura", "pere"]),
    "[users]\n; one name per line\nlaura\npere\n; staff\n",
  );
  strictEqual(renderConfig("[users]\n", "ini", "bb.com", ["laura"]), "[users]\nlaura\n");
  strictEqual(renderConfig("[users]\nlaura\n", "ini", "bb.com", []), "[users]\n");
});

Deno.test("renderConfig in the INI form adds a [users] section when there is none", () => {
  const text = "; bb.com's node\ndomain = bb.com\n";
  const rendered = renderConfig(text, "ini", "bb.com", ["laura"]);
  strictEqual(rendered, "; bb.com's node\ndomain = bb.com\n\n[users]\nlaura\n");
  deepStrictEqual(parseConfig(rendered).users, ["laura"]);
  // Rendering again is stable.
  strictEqual(renderConfig(rendered, "ini", "bb.com", ["laura"]), rendered);
});

Deno.test("ConfigError keeps the reason apart and names the file when given", () => {
  const error = new ConfigError(5, "bad thing", { file: "nodelumi.cfg" });
  strictEqual(error.message, "nodelumi.cfg: line 5: bad thing");
  strictEqual(error.reason, "bad thing");
  strictEqual(error.line, 5);
  strictEqual(
    new ConfigError(0, "Cannot read it", { file: "x.cfg" }).message,
    "x.cfg: Cannot read it",
  );
  strictEqual(new ConfigError(0, "Cannot read x.cfg").message, "Cannot read x.cfg");
});

Deno.test("a domain of 1,000,000 users parses and renders in both forms", () => {
  const users = Array.from({ length: 1_000_000 }, (_, i) => `user${i}`);
  const ini = `domain = bb.com\n[users]\n${users.join("\n")}\n`;
  strictEqual(parseConfig(ini).users.length, 1_000_000);
  const more = [...users, "marta"];
  strictEqual(
    renderConfig(ini, "ini", "bb.com", more),
    `domain = bb.com\n[users]\n${more.join("\n")}\n`,
  );
  strictEqual(renderConfig("bb.com", "original", "bb.com", more), `bb.com\n${more.join("\n")}\n`);
});

Deno.test("[accounts] signups-per-hour bounds sign-ups per source; only a whole number is taken", () => {
  const config = parseConfig(
    "domain = bb.com\n[accounts]\nopen-signup = yes\nsignups-per-hour = 3\n",
  );
  deepStrictEqual(config.accounts, { openSignup: true, signupsPerHour: 3 });
  strictEqual(parseConfig("[accounts]\nsignups-per-hour = 0\n").accounts?.signupsPerHour, 0);
  for (const bad of ["-1", "2.5", "many", "", "1000001"]) {
    fails(
      `[accounts]\nsignups-per-hour = ${bad}\n`,
      2,
      "line 2: signups-per-hour must be a whole number 0-1000000",
    );
  }
});

Deno.test("the config reader refuses the names the console refuses: = # [ ] anywhere in a name", () => {
  fails("bb.com laura x#", 1, `line 1: "x#" is not a valid user name (${NAME_RULE})`);
  fails("bb.com\na[b", 2, `line 2: "a[b" is not a valid user name (${NAME_RULE})`);
  fails("[users]\nlaura\njo]an\n", 3, `line 3: "jo]an" is not a valid user name (${NAME_RULE})`);
  fails("[users]\nx=\n", 2, `line 2: "x=" is not a valid user name (${NAME_RULE})`);
});

Deno.test("the probes' name is never a user: the config reader refuses .lumi-probe", () => {
  fails("bb.com laura .lumi-probe", 1, `line 1: ".lumi-probe" is reserved for the node's probes`);
});

Deno.test("every name the grammar accepts is written and read back as itself, in both forms", () => {
  const names = ["laura", "!\"$%&'()*+,-./<>?\\^_`{|}~", ".lumi", "n".repeat(64)];
  for (const format of ["original", "ini"] as const) {
    const text = renderConfig(format === "ini" ? "domain = bb.com\n" : "", format, "bb.com", names);
    deepStrictEqual(parseConfig(text).users, names, text);
  }
});

Deno.test("[limits] names exempt sources and their budget; none is exempt unless named", () => {
  const config = parseConfig(
    "domain = bb.com\n[limits]\nexempt = 127.0.0.1, 10.0.0.7\nexempt-limit = 50000\n[users]\nu1\n",
  );
  deepStrictEqual(config.exempt, ["127.0.0.1", "10.0.0.7"]);
  deepStrictEqual(config.limits, { "exempt-limit": 50_000 });
  strictEqual(parseConfig("domain = bb.com\n[users]\nu1\n").exempt, undefined);
  fails(
    "[limits]\nexempt-limit = 0\n",
    2,
    "line 2: exempt-limit must be a whole number 1-100000000",
  );
  fails("[limits]\nexempt = localhost\n", 2, 'line 2: exempt: "localhost" is not an IPv4 address');
});

Deno.test("[log] and [metrics] set rotation, the operational log and the metrics endpoint", () => {
  const config = parseConfig(
    "domain = bb.com\n[log]\nmax-size = 10M\nkeep = 3\nops = off\nformat = json\n" +
      "[metrics]\nlisten = 127.0.0.1:9464\n",
  );
  deepStrictEqual(config.logging, { maxSize: 10 * 2 ** 20, keep: 3, ops: false, format: "json" });
  deepStrictEqual(config.metrics, { listen: { ip: "127.0.0.1", port: 9464 } });
  throws(() => parseConfig("[log]\nmax-size = lots\n"), /line 2: max-size must be a size/);
  throws(() => parseConfig("[log]\nformat = xml\n"), /line 2: format must be text or json/);
  throws(() => parseConfig("[metrics]\nport = 9\n"), /unknown metrics setting "port"/);
});
