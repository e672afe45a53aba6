-- commit.lua: records what the timer did with a customer's due invoices.
-- SPDX-License-Identifier: Apache-2.0
--
-- Runs after a send command was produced and acknowledged (or after a
-- decision not to send), so that a crash in between only repeats the
-- same command id. For each invoice it marks the step done, moves the
-- delay-queue entry to its next instant (or removes it) and releases the
-- lease. An invoice whose schedule version changed since the decision, or
-- that closed, is left alone: the event that changed it planned it again.
--
-- KEYS[1] customer hash, KEYS[2] delay queue, KEYS[3] leases,
-- KEYS[4] partition stats
-- ARGV[1] now (product ms), ARGV[2] customer key "tenant/customer",
-- ARGV[3] line for the customer's recent sends ("" when nothing was sent:
-- command, step, sent at, status, invoices joined by SEP),
-- ARGV[4] stats fields to add one to, comma separated ("" for none),
-- ARGV[5] invoice count n, then n groups of ARGV:
--   invoice id, expected schedule version, step index (0-based),
--   mark, next instant (0: leave the queue), history line ("" for none)
-- where mark is 'p' (postponed: step not done), 'x' (given up, done),
-- 's' (sent), 'r' (sent, counts as a reminder) or 'f' (final sent).
-- Returns the number of invoices updated.

local cust, queue, leases, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, ckey, sent_line = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local n = tonumber(ARGV[5])
local SEP = '\31'
local HISTORY_MAX = 24
local SENDS_MAX = 16

local function split(s, sep)
	local out = {}
	local from = 1
	while true do
		local at = string.find(s, sep, from, true)
		if not at then
			out[#out + 1] = string.sub(s, from)
			return out
		end
		out[#out + 1] = string.sub(s, from, at - 1)
		from = at + #sep
	end
end

local function int(x) return string.format('%d', x) end

local function append_bounded(field, line, max)
	local old = redis.call('HGET', cust, field)
	local lines = old and split(old, '\n') or {}
	lines[#lines + 1] = line
	while #lines > max do table.remove(lines, 1) end
	redis.call('HSET', cust, field, table.concat(lines, '\n'))
end

-- Step history "done.last_ms,done.last_ms,..." indexed by step. Marking
-- is idempotent within one batch: a step already marked at this very
-- instant (a pipeline sent again after a reconnect) is left alone.
local function mark_step(steps, index)
	local list = steps == '' and {} or split(steps, ',')
	for i = #list + 1, index + 1 do list[i] = '0.0' end
	local f = split(list[index + 1], '.')
	if f[2] == int(now) then return steps, false end
	list[index + 1] = int(tonumber(f[1]) + 1) .. '.' .. int(now)
	return table.concat(list, ','), true
end

local updated, marked = 0, 0
for g = 0, n - 1 do
	local base = 6 + g * 6
	local id, sv = ARGV[base], ARGV[base + 1]
	local index, mark = tonumber(ARGV[base + 2]), ARGV[base + 3]
	local next_at, line = tonumber(ARGV[base + 4]), ARGV[base + 5]
	local member = ckey .. SEP .. id
	local raw = redis.call('HGET', cust, 'i:' .. id)
	local f = raw and split(raw, '|')

	if f and f[1] == 'o' and f[3] == sv then
		local fresh = false
		if mark ~= 'p' then
			f[10], fresh = mark_step(f[10] or '', index)
		end
		if fresh then
			marked = marked + 1
			if mark == 'r' then f[8] = int(tonumber(f[8]) + 1) end
			if mark == 'f' then f[9] = '1' end
			if line ~= '' then
				append_bounded('h:' .. id, int(now) .. ' ' .. line,
					       HISTORY_MAX)
			end
		end
		redis.call('HSET', cust, 'i:' .. id, table.concat(f, '|'))
		redis.call('ZREM', leases, member)
		if next_at > 0 then
			redis.call('ZADD', queue, next_at, member)
		else
			redis.call('ZREM', queue, member)
		end
		updated = updated + 1
	elseif not f or f[1] ~= 'o' then
		-- Closed meanwhile: nothing is left to plan for it.
		redis.call('ZREM', leases, member)
	end
end

if sent_line ~= '' and marked > 0 then
	append_bounded('hist', sent_line, SENDS_MAX)
	append_bounded('sends', int(now), SENDS_MAX)
end
if ARGV[4] ~= '' and marked > 0 then
	for _, field in ipairs(split(ARGV[4], ',')) do
		redis.call('HINCRBY', stats, field, 1)
	end
end
return updated
