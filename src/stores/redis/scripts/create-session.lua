-- Creates a session hash and its expiry in one step. KEYS: the session. ARGV: expiry (epoch ms),
-- then field, value pairs.
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
