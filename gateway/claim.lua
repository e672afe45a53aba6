-- claim.lua: records a send command before the call, once.
-- KEYS[1] gw:cmd:<command_id>
-- ARGV claim token (process and job), tenant, customer, now_ms, ttl_ms
-- Returns "" when the command is claimed now, else its recorded state.
-- A command released after a refused call ("retry") may be claimed again;
-- the same claim token may claim again (a retried call whose first answer
-- was lost, e.g. a Redis timeout), any other gets "pending".
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'pending' and redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
	return ''
end
if state and state ~= 'retry' then
	return state
end
redis.call('HSET', KEYS[1], 'state', 'pending', 'owner', ARGV[1],
	'tenant', ARGV[2], 'customer', ARGV[3], 'claimed_at', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return ''
