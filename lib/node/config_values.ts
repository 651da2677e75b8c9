/**
 * Values of `nodelumi.cfg` that several sections read alike.
 *
 * @module
 */

/**
 * A yes/no setting: `yes`, `true`, `on`, `1` or `no`, `false`, `off`, `0`
 * (any case); `undefined` for anything else.
 *
 * @example
 * ```ts
 * parseYesNo("On"); // true
 * parseYesNo("maybe"); // undefined
 * ```
 */
export function parseYesNo(value: string): boolean | undefined {
  const v = value.toLowerCase();
  if (["yes", "true", "on", "1"].includes(v)) return true;
  if (["no", "false", "off", "0"].includes(v)) return false;
  return undefined;
}

/** What is said of a yes/no setting that is neither. */
export function yesNoProblem(key: string, value: string): string {
  return `${key} must be yes or no, got "${value}"`;
}
