-- status.lua: moves a message's delivery status forward, never back.
-- KEYS[1] gw:msg:<wa_message_id>
-- ARGV rank (sent 1, delivered 2, read 3, failed 3), ttl_ms
-- Returns 1 when the status advanced, 0 when it is stale or repeated.
local rank = tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
if rank <= current then
	return 0
end
redis.call('HSET', KEYS[1], 'rank', rank)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
