-- claim.lua: claims due delay-queue entries of one partition with a lease.
-- SPDX-License-Identifier: Apache-2.0
--
-- KEYS[1] the delay queue (member -> next action instant, product clock)
-- KEYS[2] the leases (member -> lease expiry, real clock)
-- ARGV[1] now on the product clock, ARGV[2] now on the real clock (ms)
-- ARGV[3] lease length (real ms), ARGV[4] most entries to claim
--
-- Expired leases (a worker died holding them) are claimed again first, then
-- due entries in order of their instant, never more than ARGV[4] in all, so
-- one call stays short however large the backlog. Returns
-- {next_due, next_lease_expiry, member1, score1, member2, score2, ...}
-- where a score of -1 marks a reclaimed lease and the next instants are -1
-- when the set is empty.

local queue, leases = KEYS[1], KEYS[2]
local now, real_now = ARGV[1], tonumber(ARGV[2])
local expiry = real_now + tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local out = {'-1', '-1'}
local renew = {}

local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', real_now,
	'LIMIT', 0, limit)
for _, member in ipairs(expired) do
	renew[#renew + 1] = expiry
	renew[#renew + 1] = member
	out[#out + 1] = member
	out[#out + 1] = '-1'
end

local room = limit - #expired
if room > 0 then
	local due = redis.call('ZRANGEBYSCORE', queue, '-inf', now,
		'WITHSCORES', 'LIMIT', 0, room)
	local taken = {}
	for i = 1, #due, 2 do
		taken[#taken + 1] = due[i]
		renew[#renew + 1] = expiry
		renew[#renew + 1] = due[i]
		out[#out + 1] = due[i]
		out[#out + 1] = due[i + 1]
	end
	if #taken > 0 then
		redis.call('ZREM', queue, unpack(taken))
	end
end
if #renew > 0 then
	redis.call('ZADD', leases, unpack(renew))
end

local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
if head[2] then out[1] = head[2] end
local lease_head = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
if lease_head[2] then out[2] = lease_head[2] end
return out
