/**
 * The agent's web page in a real browser: Debian's `chromium` driven by
 * Playwright. The scenarios are in `tests/browser/web_page.ts`, run here in a
 * `deno test` of their own, because Playwright reads and queries the system
 * when it loads (`/proc`, the OS release, the home folder), beyond what the
 * test task allows the other tests. chromium is installed when the tests run
 * as root with apt; otherwise these tests are ignored with one line saying
 * so, except under `CI=true`, where a missing chromium fails.
 *
 * @module
 */

import assert from "#assert";
import { browserTools } from "./support/browser.ts";
import { projectRoot } from "./support/process.ts";

const tools = await browserTools();
const NAME = "the web page in a real browser (tests/browser/web_page.ts)";

/** The browser process's permissions: the test task's, plus what Playwright reads and queries. */
const FLAGS = [
  "--unstable-net",
  "--allow-net",
  "--allow-read=.,/etc/resolv.conf,/etc/hosts,/usr/bin/chromium",
  "--allow-write=.",
  "--allow-run",
  "--allow-sys=hostname,networkInterfaces",
  "--allow-env",
];

if (tools.ignore) tools.report(NAME);

Deno.test({
  name: NAME,
  ignore: tools.ignore,
  async fn() {
    tools.assert();
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--quiet", ...FLAGS, "tests/browser/web_page.ts"],
      cwd: projectRoot,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
    assert.ok(run.success, out);
    assert.match(out, /ok \| 3 passed \| 0 failed/, out);
  },
});
