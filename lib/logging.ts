/**
 * Diagnostics (not the packet log): what went wrong and why, on stderr,
 * through LogTape (standing in for `@std/log`, which cannot be installed here).
 *
 * @module
 */

import { configure, getConsoleSink, getTextFormatter, type LogLevel } from "#log";

/**
 * Send diagnostics of level `lowest` and above to stderr. Call once, from an
 * entry point; libraries only call `getLogger`.
 */
export async function setupLogging(lowest: LogLevel = "warning"): Promise<void> {
  await configure({
    reset: true,
    sinks: {
      stderr: getConsoleSink({
        formatter: getTextFormatter(),
        levelMap: {
          trace: "error",
          debug: "error",
          info: "error",
          warning: "error",
          error: "error",
          fatal: "error",
        },
      }),
    },
    loggers: [
      { category: ["lumi"], lowestLevel: lowest, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}
