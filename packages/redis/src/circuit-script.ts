import { luaScript } from './connection.js';

/*
 * Compare-and-set of one circuit record, the atomic step of the Redis circuit breaker store.
 * A circuit is a hash: `v`, its version, and `r`, the record as JSON. A process computes the
 * next record from the version it knows (the state machine of @shallot/circuit-breaker is a
 * pure function) and asks this script to store it: the write happens only if nobody wrote in
 * between, so of two processes moving an open circuit to half-open one wins and the other runs
 * the machine again on the winner's record, where the probe slot is taken. Every write is
 * published, so every process's local copy follows at once.
 *
 * Versions only grow: a new hash (none, or expired) starts at the server's time in
 * microseconds, above any version an expired one reached, so a stale copy never looks newer.
 *
 * KEYS[1]  the circuit's hash
 * ARGV[1]  the version the new record was computed from ('0': none)
 * ARGV[2]  the new record, JSON
 * ARGV[3]  TTL of the hash, ms
 * ARGV[4]  the channel changes are published on
 * ARGV[5]  the writer's id
 * ARGV[6]  the circuit's key, as a JSON string
 *
 * Returns { 1, new version } when stored, { 0, current version, current record or '' } when not.
 * A message is `version \n writer \n key (JSON) \n record (JSON)`.
 */
export const compareAndSetScript = luaScript(`
if redis.replicate_commands then redis.replicate_commands() end
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '0') ~= ARGV[1] then
  return { 0, v or '0', redis.call('HGET', KEYS[1], 'r') or '' }
end
local next_v
if v then
  next_v = string.format('%.0f', tonumber(v) + 1)
else
  local t = redis.call('TIME')
  next_v = string.format('%.0f', tonumber(t[1]) * 1000000 + tonumber(t[2]))
end
redis.call('HSET', KEYS[1], 'v', next_v, 'r', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', ARGV[4], next_v .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[6] .. '\\n' .. ARGV[2])
return { 1, next_v }
`);
