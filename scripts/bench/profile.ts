/**
 * Summarise a V8 CPU profile (`deno run --cpu-prof`, or `deno task bench
 * --profile DIR`): the functions where the time goes, by self time and by
 * total (inclusive) time.
 *
 * ```sh
 * deno run --allow-read scripts/bench/profile.ts tests/.tmp/prof/node-log-on-*.cpuprofile [--top 25]
 * ```
 *
 * @module
 */

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

/** A `.cpuprofile` file. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Time spent in one function. */
export interface FunctionTime {
  /** `name (file:line)`. */
  readonly name: string;
  /** Samples' time in the function itself, in ms. */
  readonly selfMs: number;
  /** Samples' time in the function and what it called, in ms. */
  readonly totalMs: number;
}

function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const file = frame.url.replace(/^.*\/(lib|scripts|ext:[^/]*|main_\w+\.ts)/, "$1");
  return `${name} (${file}:${frame.lineNumber + 1})`;
}

/** Self and total time per function, most expensive first (by self time). */
export function summarise(profile: CpuProfile): { functions: FunctionTime[]; totalMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<string, number>();
  const totalUs = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const node = byId.get(id);
    if (!node) return;
    const self = label(node.callFrame);
    selfUs.set(self, (selfUs.get(self) ?? 0) + dt);
    // Each function once per sample, however deep the recursion.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      totalUs.set(name, (totalUs.get(name) ?? 0) + dt);
    }
  });
  const functions = [...totalUs.keys()].map((name) => ({
    name,
    selfMs: (selfUs.get(name) ?? 0) / 1000,
    totalMs: (totalUs.get(name) ?? 0) / 1000,
  }));
  functions.sort((a, b) => b.selfMs - a.selfMs);
  return { functions, totalMs: total / 1000 };
}

if (import.meta.main) {
  const topFlag = Deno.args.indexOf("--top");
  const top = topFlag >= 0 ? Number(Deno.args[topFlag + 1]) : 25;
  const files = Deno.args.filter((a, i) => a !== "--top" && Deno.args[i - 1] !== "--top");
  for (const file of files) {
    const { functions, totalMs } = summarise(JSON.parse(await Deno.readTextFile(file)));
    const pct = (ms: number) => `${(100 * ms / totalMs).toFixed(1).padStart(5)} %`;
    console.log(
      `${file}: ${(totalMs / 1000).toFixed(2)} s sampled\n  self      total     function`,
    );
    for (const f of functions.slice(0, top)) {
      console.log(`  ${pct(f.selfMs)}  ${pct(f.totalMs)}  ${f.name}`);
    }
    console.log("  by total time:");
    for (const f of [...functions].sort((a, b) => b.totalMs - a.totalMs).slice(0, top)) {
      console.log(`  ${pct(f.selfMs)}  ${pct(f.totalMs)}  ${f.name}`);
    }
  }
}
