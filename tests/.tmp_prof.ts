import { setImmediate } from "node:timers";
import { openRedisDirectory } from "../lib/node/redis_directory.ts";
import { MemoryDirectory } from "../lib/node/memory_directory.ts";
import { startRedis } from "./support/redis_server.ts";
await using redis = await startRedis();
const users = Array.from({ length: 5000 }, (_, i) => `r${i}`);
const a = await openRedisDirectory({ redis: redis.url, domain: "p.test", configured: users });
const m = new MemoryDirectory(users);
async function drive(d: { register: MemoryDirectory["register"]; flush?: () => Promise<void> }, n: number) {
  const t = performance.now();
  const cpu0 = Deno.resourceUsage?.() ;
  for (let i = 0; i < n; i++) {
    d.register(users[i % users.length]!, { ip: "127.0.0.1", port: 1000 + (i % 16) }, Date.now());
    if (i % 20 === 19) await new Promise((r) => setImmediate(r));
  }
  await d.flush?.();
  return (performance.now() - t) / n * 1000;
}
for (let round = 0; round < 3; round++) {
  console.log("memory µs/reg", (await drive(m, 50_000)).toFixed(2), "redis µs/reg", (await drive(a, 50_000)).toFixed(2), a.stats);
}
await a[Symbol.asyncDispose]();
Deno.exit(0);
