-- claim.lua: records a send command before the call, once.
-- KEYS[1] gw:cmd:<command_id>
-- ARGV owner, tenant, customer, now_ms, ttl_ms
-- Returns "" when the command is claimed now, else its recorded state.
-- A command released after a refused call ("retry") may be claimed again.
local state = redis.call('HGET', KEYS[1], 'state')
if state and state ~= 'retry' then
	return state
end
redis.call('HSET', KEYS[1], 'state', 'pending', 'owner', ARGV[1],
	'tenant', ARGV[2], 'customer', ARGV[3], 'claimed_at', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return ''
