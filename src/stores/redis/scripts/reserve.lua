-- The reservation of src/limits/rate-limiter.ts (MemoryRateStore) in one atomic script, on Redis' clock so
-- replicas with skewed clocks share one timeline. KEYS: one list per rule (booked slot times,
-- oldest first), then the last booked slot. ARGV: the longest wait allowed, the earliest slot the
-- replica accepts (ms from now), then limit and window of each rule. Answers {1, wait} when
-- booked, {0, wait} when the slot is too far off.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxWait = tonumber(ARGV[1])
local n = #KEYS - 1
local at = now + tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
if last > at then at = last end
for i = 1, n do
  local limit = tonumber(ARGV[2 * i + 1])
  local window = tonumber(ARGV[2 * i + 2])
  local len = redis.call('LLEN', KEYS[i])
  if len >= limit then
    local oldest = tonumber(redis.call('LINDEX', KEYS[i], len - limit))
    if oldest + window > at then at = oldest + window end
  end
end
if at - now > maxWait then return {0, at - now} end
local longest = 0
for i = 1, n do
  local limit = tonumber(ARGV[2 * i + 1])
  local window = tonumber(ARGV[2 * i + 2])
  redis.call('RPUSH', KEYS[i], at)
  redis.call('LTRIM', KEYS[i], -limit, -1)
  redis.call('PEXPIRE', KEYS[i], window + (at - now) + 1000)
  if window > longest then longest = window end
end
redis.call('SET', KEYS[n + 1], at, 'PX', longest + (at - now) + 1000)
return {1, at - now}