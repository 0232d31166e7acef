import { luaScript } from './connection.js';

/*
 * The GCRA of @shallot/rate-limit (gcra.ts), run atomically in Redis: one number per key, the
 * theoretical arrival time (tat) of the next request at the sustained rate, in Redis server
 * time (TIME), so the clocks of the processes sharing a bucket do not matter. A bucket whose
 * tat has passed is full, and full buckets are not kept: the key expires (PX) when its tat passes.
 *
 * KEYS[1]  the bucket
 * ARGV[1]  'take' | 'refund' | 'pause'
 * ARGV[2]  emission interval T (ms between tokens at the sustained rate)
 * ARGV[3]  burst B (tokens a full bucket holds)
 * ARGV[4]  take: the longest wait accepted (ms, -1 for no bound); pause: ms from now the bucket stays empty
 *
 * take returns { allowed (1|0), waitMs, retryAfterMs, remaining, resetMs }, fractional values as
 * strings (Redis turns Lua numbers into integers).
 */
export const gcraScript = luaScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local op = ARGV[1]
local T = tonumber(ARGV[2])
local tolerance = (tonumber(ARGV[3]) - 1) * T
local tat = tonumber(redis.call('GET', KEYS[1]))
local function fmt(ms) return string.format('%.3f', ms) end
local function save(next_tat)
  if next_tat == nil or next_tat <= now then
    redis.call('DEL', KEYS[1])
  else
    redis.call('SET', KEYS[1], fmt(next_tat), 'PX', math.ceil(next_tat - now) + 1)
  end
end
if op == 'take' then
  local start = math.max(tat or now, now)
  local wait = math.max(0, start - tolerance - now)
  local max_wait = tonumber(ARGV[4])
  if max_wait >= 0 and wait > max_wait then
    return { 0, '0', fmt(wait), 0, fmt(math.max(0, start - now)) }
  end
  local next_tat = start + T
  save(next_tat)
  local remaining = 0
  if wait <= 0 then remaining = math.max(0, math.floor((now + tolerance - next_tat) / T + 1e-9) + 1) end
  return { 1, fmt(wait), '0', remaining, fmt(next_tat - now) }
elseif op == 'refund' then
  if tat ~= nil and tat > now then save(math.max(now, tat - T)) end
  return 0
elseif op == 'pause' then
  local hold = tonumber(ARGV[4])
  if hold > 0 then save(math.max(tat or now, now + hold + tolerance)) end
  return 0
end
return redis.error_reply('unknown operation ' .. tostring(op))
`);
