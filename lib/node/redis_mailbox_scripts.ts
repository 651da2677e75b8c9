/**
 * The Lua scripts of `redis_mailbox.ts`: each runs atomically in Redis, on
 * the keys of one hash tag (one recipient, or one sender's share), so that
 * they run on Redis Cluster too.
 *
 * A recipient's keys (tag `{name}`): `mz` a sorted set of message ids by
 * time stored (ms), `mn` a hash of `id → "bytes quota"` with the total bytes
 * under `#`, and `m:<id>` a hash per message (`s` sender, `q` share, `t`
 * stored at, `b` the sealed body in base64url). A share's keys (tag
 * `{q:<quota>}`): `mq` a sorted set of `"bytes recipient id"` by time stored,
 * `mb` its bytes. Every key expires by itself a little after the time to
 * live of the newest message it holds.
 *
 * @module
 */

import { redisScript } from "./redis_link.ts";

/** Drop a recipient's messages stored before ARGV-given `before`; returns `"bytes quota id"` each. */
const TRIM = `
local function trim(z, n, base, before)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', '(' .. before)
  local out = {}
  for _, id in ipairs(gone) do
    local info = redis.call('HGET', n, id)
    if info then
      local b = tonumber(string.match(info, '^%d+'))
      redis.call('HINCRBY', n, '#', -b)
      redis.call('HDEL', n, id)
      table.insert(out, info .. ' ' .. id)
    end
    redis.call('DEL', base .. id)
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', '(' .. before) end
  if redis.call('ZCARD', z) == 0 then redis.call('DEL', n) end
  return out
end
`;

/**
 * KEYS mz, mn; ARGV base, before: trim, then `{count, bytes, trimmed}`.
 */
export const RECIPIENT_USAGE = await redisScript(`${TRIM}
local trimmed = trim(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
local bytes = tonumber(redis.call('HGET', KEYS[2], '#') or '0')
return {redis.call('ZCARD', KEYS[1]), bytes, trimmed}
`);

/**
 * KEYS mz, mn; ARGV base, id, sender, quota, at, body, bytes, max-messages,
 * max-bytes, before, ttl: trim, then store the message unless it is there
 * already (`dup`) or the recipient's bound refuses it (`full`).
 * Returns `{verdict, trimmed, count}`.
 */
export const PUT = await redisScript(`${TRIM}
local z, n, base, id = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local trimmed = trim(z, n, base, ARGV[10])
if redis.call('ZSCORE', z, id) then return {'dup', trimmed, redis.call('ZCARD', z)} end
local count = redis.call('ZCARD', z)
local bytes = tonumber(redis.call('HGET', n, '#') or '0')
local b = tonumber(ARGV[7])
if count + 1 > tonumber(ARGV[8]) or bytes + b > tonumber(ARGV[9]) then
  return {'full', trimmed, count}
end
redis.call('HSET', base .. id, 's', ARGV[3], 'q', ARGV[4], 't', ARGV[5], 'b', ARGV[6])
redis.call('ZADD', z, ARGV[5], id)
redis.call('HSET', n, id, ARGV[7] .. ' ' .. ARGV[4])
redis.call('HINCRBY', n, '#', b)
local ttl = tonumber(ARGV[11])
redis.call('PEXPIRE', base .. id, ttl)
redis.call('PEXPIRE', z, ttl)
redis.call('PEXPIRE', n, ttl)
return {'ok', trimmed, count + 1}
`);

/**
 * KEYS mz; ARGV base, since, skip, id (or ""): the message by id, or the
 * `skip`-th oldest stored at or after `since`: `{id, sender, quota, at, body}`.
 */
export const GET = await redisScript(`
local id = ARGV[4]
if id == '' then
  local ids = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[2], '+inf', 'LIMIT', tonumber(ARGV[3]), 1)
  id = ids[1]
  if not id then return false end
elseif not redis.call('ZSCORE', KEYS[1], id) then
  return false
end
local m = redis.call('HMGET', ARGV[1] .. id, 's', 'q', 't', 'b')
if not m[4] then return false end
return {id, m[1], m[2], m[3], m[4]}
`);

/** KEYS mz, mn; ARGV base, id: delete it; `{"bytes quota", count left}`, or false. */
export const DELETE = await redisScript(`
local z, n, base, id = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
if redis.call('ZREM', z, id) == 0 then return false end
redis.call('DEL', base .. id)
local info = redis.call('HGET', n, id) or '0 -'
redis.call('HDEL', n, id)
redis.call('HINCRBY', n, '#', -tonumber(string.match(info, '^%d+')))
local left = redis.call('ZCARD', z)
if left == 0 then redis.call('DEL', n) end
return {info, left}
`);

/**
 * KEYS mq, mb; ARGV mode (`usage` or `add`), before, member, at, bytes,
 * max-messages, max-bytes, ttl: trim the share, then `usage` answers
 * `{count, bytes}`, `add` counts the member in unless the bound refuses
 * (`quota`): `new`, or `ok` when it was counted already.
 */
export const SHARE = await redisScript(`
local q, qb = KEYS[1], KEYS[2]
local gone = redis.call('ZRANGEBYSCORE', q, '-inf', '(' .. ARGV[2])
if #gone > 0 then
  local sum = 0
  for _, m in ipairs(gone) do sum = sum + tonumber(string.match(m, '^%d+')) end
  redis.call('DECRBY', qb, sum)
  redis.call('ZREMRANGEBYSCORE', q, '-inf', '(' .. ARGV[2])
  if redis.call('ZCARD', q) == 0 then redis.call('DEL', qb) end
end
local bytes = tonumber(redis.call('GET', qb) or '0')
if ARGV[1] == 'usage' then return {redis.call('ZCARD', q), bytes} end
if redis.call('ZSCORE', q, ARGV[3]) then return 'ok' end
local b = tonumber(ARGV[5])
if redis.call('ZCARD', q) + 1 > tonumber(ARGV[6]) or bytes + b > tonumber(ARGV[7]) then
  return 'quota'
end
redis.call('ZADD', q, ARGV[4], ARGV[3])
redis.call('INCRBY', qb, b)
redis.call('PEXPIRE', q, tonumber(ARGV[8]))
redis.call('PEXPIRE', qb, tonumber(ARGV[8]))
return 'new'
`);

/** KEYS mq, mb; ARGV members (`"bytes recipient id"`): no longer counted in the share. */
export const RELEASE = await redisScript(`
local sum = 0
for _, m in ipairs(ARGV) do
  if redis.call('ZREM', KEYS[1], m) == 1 then sum = sum + tonumber(string.match(m, '^%d+')) end
end
if sum > 0 then redis.call('DECRBY', KEYS[2], sum) end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[2]) end
return sum
`);
