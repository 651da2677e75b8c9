/**
 * `deno task cluster` as a test starts it: `scripts/cluster.ts` with two
 * domains in `dir`, their nodes from `base` on.
 *
 * @module
 */

import { ChildProcess, projectRoot } from "./process.ts";

/** Start the cluster script for two domains, nodes on `base` and the next address. */
export function startCluster(dir: string, base: string): ChildProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--unstable-net",
      "--allow-net",
      "--allow-read=.",
      "--allow-write=.",
      "--allow-run",
      "--allow-sys=hostname",
      "--allow-env",
      `${projectRoot}scripts/cluster.ts`,
      "2",
      "--dir",
      dir,
      "--base",
      base,
    ],
    cwd: projectRoot,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return new ChildProcess("cluster", child, false);
}
