/**
 * `deno task install [--root DIR]`: install the `lumi-node` and `lumi-agent`
 * commands with `deno install --global`, each with exactly the permission
 * flags of its `deno task` entry (read from deno.json), so they run from
 * any folder and keep their files in it. `--root` is where they go
 * (`DIR/bin`); default: Deno's (`$DENO_INSTALL_ROOT`, else `~/.deno`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ROOT, taskFlags } from "../tests/support/task_flags.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { root: { type: "string" }, help: { type: "boolean", short: "h" } },
  strict: true,
});
if (values.help) {
  console.log(
    "Usage: deno task install [--root DIR]   (installs DIR/bin/lumi-node and lumi-agent)",
  );
  Deno.exit(0);
}
const root = decodeURIComponent(ROOT.pathname);
for (const program of ["node", "agent"] as const) {
  const args = [
    "install",
    "--global",
    "--force",
    "--config",
    `${root}deno.json`,
    "--name",
    `lumi-${program}`,
    ...(values.root !== undefined ? ["--root", values.root] : []),
    ...(await taskFlags(program)),
    `${root}main_${program}.ts`,
  ];
  const { code } = await new Deno.Command("deno", { args }).spawn().status;
  if (code !== 0) {
    console.error(`deno install of lumi-${program} failed (exit ${code})`);
    Deno.exit(code);
  }
  console.log(`Installed lumi-${program}${values.root ? ` in ${values.root}/bin` : ""}`);
}
