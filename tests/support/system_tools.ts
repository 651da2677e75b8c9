/**
 * System tools a test needs (`ip`, `nft`, …): found on PATH, or installed
 * when the test runs as root with apt (`apt-get update` once per process,
 * then `apt-get install -y`). A test whose tools are still missing is
 * ignored, with one line saying which tool — except under `CI=true`, where
 * a missing tool is a failure.
 *
 * @example
 * ```ts
 * const tools = await requireTools({ ip: "iproute2", nft: "nftables" }, { root: true });
 * Deno.test({ name: "…", ignore: tools.ignore, fn: async () => { tools.assert(); … } });
 * ```
 *
 * @module
 */

/** What {@linkcode requireTools} found. */
export interface ToolCheck {
  /** Tools still missing, by name. */
  readonly missing: readonly string[];
  /** Whether the tests that need them are to be ignored (missing, and not under CI). */
  readonly ignore: boolean;
  /** Throw if a tool is missing (under CI the test fails with this). */
  assert(): void;
  /** One line per test that is ignored, for the output. Default: `console.log`. */
  report(testName: string, print?: (line: string) => void): void;
}

async function run(command: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const result = await new Deno.Command(command, {
      args,
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).output();
    const out = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
    return { ok: result.success, out };
  } catch (error) {
    return { ok: false, out: String(error) };
  }
}

async function has(tool: string): Promise<boolean> {
  return (await run("sh", ["-c", `command -v ${tool} >/dev/null 2>&1`])).ok;
}

let updated: Promise<boolean> | undefined;

async function isRoot(): Promise<boolean> {
  const uid = await run("id", ["-u"]);
  return uid.ok && uid.out.trim() === "0";
}

async function canInstall(): Promise<boolean> {
  return await isRoot() && await has("apt-get");
}

function isCi(): boolean {
  try {
    return Deno.env.get("CI") === "true";
  } catch {
    return false;
  }
}

/**
 * Make sure every tool of `tools` (tool name → Debian package) is there,
 * installing the missing ones when possible.
 */
export async function requireTools(
  tools: Readonly<Record<string, string>>,
  options: { readonly root?: boolean } = {},
): Promise<ToolCheck> {
  let missing: string[] = [];
  for (const tool of Object.keys(tools)) if (!await has(tool)) missing.push(tool);
  if (missing.length > 0 && await canInstall()) {
    updated ??= run("apt-get", ["update"]).then((r) => r.ok);
    await updated;
    const packages = [...new Set(missing.map((tool) => tools[tool]!))];
    await run("apt-get", ["install", "-y", "--no-install-recommends", ...packages]);
    const still: string[] = [];
    for (const tool of missing) if (!await has(tool)) still.push(tool);
    missing = still;
  }
  if (options.root && !await isRoot()) missing.push("root");
  const ci = isCi();
  const why = () =>
    missing.map((tool) =>
      tool === "root"
        ? "root (the test needs root privileges)"
        : `${tool} (Debian package ${tools[tool]})`
    ).join(", ");
  return {
    missing,
    ignore: missing.length > 0 && !ci,
    assert() {
      if (missing.length > 0) throw new Error(`missing system tools: ${why()}`);
    },
    report(testName, print = console.log) {
      if (missing.length > 0 && !ci) print(`ignored: ${testName}: missing tool ${why()}`);
    },
  };
}
