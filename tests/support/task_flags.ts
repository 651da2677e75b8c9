/**
 * The permission flags of the `node` and `agent` tasks in deno.json: the one
 * source that tests, scripts and the compile tasks share, so what is tested
 * is what ships.
 *
 * @module
 */

/** The project root, as a file URL. */
export const ROOT: URL = new URL("../../", import.meta.url);

/** Deno's flags of a `deno run` task in deno.json (everything between `run` and the script). */
export async function taskFlags(task: "node" | "agent"): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const entry: string | { command: string } = config.tasks[task];
  const command = typeof entry === "string" ? entry : entry.command;
  const words = command.split(/\s+/);
  return words.slice(words.indexOf("run") + 1).filter((w) => w.startsWith("--"));
}
