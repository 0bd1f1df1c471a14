-- Tells a replica whether Redis lost its data since the replica last looked. KEYS: `born` (when
-- this Redis' data began, and a random id: it disappears with the data), `lost` (when the data
-- of the latest loss some replica noticed began). ARGV: the `born` this replica saw last ('' the
-- first time), a new random id. Answers {born, ms since `lost`, or -1}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local born = redis.call('GET', KEYS[1])
if not born then
  born = string.format('%.0f', now) .. ':' .. ARGV[2]
  redis.call('SET', KEYS[1], born)
end
if ARGV[1] ~= '' and ARGV[1] ~= born then
  local began = tonumber(string.match(born, '^%d+'))
  if began > tonumber(redis.call('GET', KEYS[2]) or '0') then redis.call('SET', KEYS[2], string.format('%.0f', began)) end
end
local lost = redis.call('GET', KEYS[2])
if not lost then return {born, -1} end
return {born, now - tonumber(lost)}