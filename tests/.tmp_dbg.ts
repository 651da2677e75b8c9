import { openRedisDirectory } from "../lib/node/redis_directory.ts";
import { openRedisAccounts } from "../lib/node/redis_accounts.ts";
import { AccountStore } from "../lib/node/store.ts";
import { startRedis } from "./support/redis_server.ts";
await using redis = await startRedis();
const mk = async () => {
  const d = await openRedisDirectory({ redis: redis.url, domain: "x.test", configured: ["ana"] });
  const s = AccountStore.open(":memory:");
  const acc = await openRedisAccounts({ link: d.link, prefix: d.prefix, store: s, directory: d });
  return { d, s, acc };
};
const A = await mk();
const B = await mk();
A.s.signUp("nuria", { salt: new Uint8Array([1]), iterations: 5, storedKey: new Uint8Array([2]) });
await A.acc.flush();
await new Promise((r) => setTimeout(r, 200));
console.log(A.d.stats, B.d.stats, B.s.get("nuria"), B.d.has("nuria"));
console.log(await A.d.link.client.hGetAll("lumi:x.test:{nuria}"));
Deno.exit(0);
