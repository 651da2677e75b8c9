/**
 * A real browser for the web page's tests: Debian's `chromium`, driven by
 * Puppeteer (`#puppeteer`, puppeteer-core: no browser download). The
 * browser is installed like the other system tools (`system_tools.ts`):
 * with apt when the tests run as root, otherwise the tests are ignored
 * with one line saying so, except under `CI=true`, where that fails.
 *
 * (Playwright, tried first, probes `/proc/sys/fs/binfmt_misc` when it loads,
 * which Deno allows only with `--allow-all`.)
 *
 * @example
 * ```ts
 * await using browser = await Browser.launch();
 * const page = await browser.page();
 * await page.goto(url);
 * await waitText(page, "#lines li", "hello");
 * ```
 *
 * @module
 */

import puppeteer, { type Page } from "#puppeteer";
import { requireTools, type ToolCheck } from "./system_tools.ts";
import { projectRoot } from "./process.ts";

/** Where a Debian chromium is. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether chromium is there (installed now if possible). */
export function browserTools(): Promise<ToolCheck> {
  return requireTools({ chromium: "chromium" });
}

/** Where the tests save screenshots for a person to look at. */
export const SCREENSHOTS = `${projectRoot}tests/.tmp/web-screenshots`;

/** How long a page may take to show something. */
const WAIT_MS = 15_000;

/** A page, with the script errors it raised. */
export type TestPage = Page & { errors: string[] };

/** A headless chromium; dispose closes it. */
export class Browser implements AsyncDisposable {
  readonly #browser: Awaited<ReturnType<typeof puppeteer.launch>>;

  private constructor(browser: Awaited<ReturnType<typeof puppeteer.launch>>) {
    this.#browser = browser;
  }

  /**
   * Start chromium, without its sandbox: as root (the test machines) it refuses to start
   * otherwise, and it opens only the test's own pages.
   */
  static async launch(): Promise<Browser> {
    // Its profile goes to a temporary folder: the tests' own.
    await Deno.mkdir(`${projectRoot}tests/.tmp`, { recursive: true });
    Deno.env.set("TMPDIR", `${projectRoot}tests/.tmp`);
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--force-prefers-reduced-motion"],
    });
    return new Browser(browser);
  }

  /** A new page of `width` × `height`, its script errors collected in `errors`. */
  async page(width = 1100, height = 640): Promise<TestPage> {
    const page = await this.#browser.newPage() as TestPage;
    await page.setViewport({ width, height });
    await page.emulateTimezone("UTC");
    await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: "light" }]);
    page.errors = [];
    page.on("pageerror", (error) => page.errors.push(String(error)));
    return page;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#browser.close();
  }
}

/** An element of a page. */
export type Found = NonNullable<Awaited<ReturnType<Page["$"]>>>;

/** The script, run in the page, that finds the element of `selector` holding `text`. */
function finder(selector: string, text: string, hidden: boolean): string {
  return `[...document.querySelectorAll(${JSON.stringify(selector)})].find((e) =>
    (e.textContent ?? "").includes(${JSON.stringify(text)}) &&
    (${hidden} || e.offsetParent !== null))`;
}

/**
 * Wait until an element matching `selector` holds `text` (and is shown, unless `hidden`);
 * resolves with it.
 */
export async function waitText(
  page: Page,
  selector: string,
  text: string,
  options: { hidden?: boolean; timeoutMs?: number } = {},
): Promise<Found> {
  let handle;
  try {
    handle = await page.waitForFunction(finder(selector, text, options.hidden ?? false), {
      timeout: options.timeoutMs ?? WAIT_MS,
    });
  } catch (error) {
    const shown = await page.evaluate("document.body.innerText").catch(() => "?");
    await screenshot(page, "failed").catch(() => {});
    throw new Error(`no ${selector} holding "${text}" in time; the page shows:\n${shown}`, {
      cause: error,
    });
  }
  const element = handle.asElement();
  if (!element) throw new Error(`no element ${selector} holding "${text}"`);
  return element as Found;
}

/** Wait until no element matching `selector` holds `text`. */
export async function waitGone(page: Page, selector: string, text: string): Promise<void> {
  await page.waitForFunction(`!(${finder(selector, text, true)})`, { timeout: WAIT_MS });
}

/** Save a screenshot of `page` as `name`.png under {@linkcode SCREENSHOTS} (and `also`, if given). */
export async function screenshot(page: Page, name: string, also?: string): Promise<void> {
  await Deno.mkdir(SCREENSHOTS, { recursive: true });
  const bytes = await page.screenshot({ path: `${SCREENSHOTS}/${name}.png` });
  if (also) await Deno.writeFile(also, bytes);
}
