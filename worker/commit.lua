-- commit.lua: records what the timer did with one batch of due invoices.
-- SPDX-License-Identifier: Apache-2.0
--
-- Runs after the batch's send commands were produced and acknowledged (or
-- after decisions not to send), so that a crash in between only repeats
-- the same command ids. For each invoice it marks the step done, moves the
-- delay-queue entry to its next instant (or removes it) and releases the
-- lease. An invoice whose schedule version changed since the decision, or
-- that closed, is left alone: the event that changed it planned it again.
--
-- One call carries every customer of a batch of one partition (a "unit":
-- the invoices of one customer decided together), so that the cost of a
-- script call is paid once per batch; each customer hash is read with one
-- HMGET and written with one HSET, and the queue, lease and stats changes
-- go out as one command each.
--
-- KEYS[1] delay queue, KEYS[2] leases, KEYS[3] partition stats,
-- KEYS[3 + u] the hash of the customer of unit u (1-based)
-- ARGV[1] now (product ms), ARGV[2] unit count, then per unit:
--   customer key "tenant/customer",
--   line for the customer's recent sends ("" when nothing was sent:
--   command, step, sent at, status, invoices joined by SEP),
--   stats fields to add one to, comma separated ("" for none),
--   invoice count n, then n groups of:
--     invoice id, expected schedule version, step index (0-based),
--     mark, next instant (0: leave the queue), history line ("" for none)
-- where mark is 'p' (postponed: step not done), 'x' (given up, done),
-- 's' (sent), 'r' (sent, counts as a reminder) or 'f' (final sent).
-- Returns the number of invoices updated.

-- split comes from prelude.lua, put in front of this script at build time.

local queue, leases, stats = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[1])
local units = tonumber(ARGV[2])
local SEP = '\31'
local HISTORY_MAX = 24
local SENDS_MAX = 16
local CHUNK = 512 -- members per ZADD/ZREM, well under Lua's stack limit

local function int(x) return string.format('%d', x) end

-- old with line appended, keeping the last max lines.
local function append_bounded(old, line, max)
	if not old or old == '' then return line end
	local text = old .. '\n' .. line
	local lines, at = 1, 0
	while true do
		at = string.find(text, '\n', at + 1, true)
		if not at then break end
		lines = lines + 1
	end
	at = 0
	while lines > max do
		at = string.find(text, '\n', at + 1, true)
		lines = lines - 1
	end
	return at > 0 and string.sub(text, at + 1) or text
end

-- Step history "done.last_ms,done.last_ms,..." indexed by step. Marking
-- is idempotent within one batch: a step already marked at this very
-- instant (a call sent again after a reconnect) is left alone.
local function mark_step(steps, index)
	local list = steps == '' and {} or split(steps, ',')
	for i = #list + 1, index + 1 do list[i] = '0.0' end
	local f = split(list[index + 1], '.')
	if f[2] == int(now) then return steps, false end
	list[index + 1] = int(tonumber(f[1]) + 1) .. '.' .. int(now)
	return table.concat(list, ','), true
end

-- Batch-wide changes, sent once at the end. A member's last group sets
-- its next instant (0: out of the queue).
local next_of, order, released, counts = {}, {}, {}, {}

local function flush(cmd, key, list)
	for from = 1, #list, CHUNK do
		redis.call(cmd, key,
			unpack(list, from, math.min(from + CHUNK - 1, #list)))
	end
end

-- Applies one invoice group to the unit's cached fields; true when its
-- step was newly marked.
local function commit_invoice(fields, member, sv, index, mark, next_at,
			      line)
	local id_key = 'i:' .. member.id
	local raw = fields[id_key]
	local f = raw and split(raw, '|')

	if not (f and f[1] == 'o' and f[3] == sv) then
		if not f or f[1] ~= 'o' then
			-- Closed meanwhile: nothing is left to plan for it.
			released[#released + 1] = member.text
		end
		return false, false
	end
	local fresh = false
	if mark ~= 'p' then
		f[10], fresh = mark_step(f[10] or '', index)
	end
	if fresh then
		if mark == 'r' then f[8] = int(tonumber(f[8]) + 1) end
		if mark == 'f' then f[9] = '1' end
		if line ~= '' then
			local h = 'h:' .. member.id
			fields[h] = append_bounded(fields[h],
				int(now) .. ' ' .. line, HISTORY_MAX)
		end
	end
	fields[id_key] = table.concat(f, '|')
	released[#released + 1] = member.text
	if not next_of[member.text] then order[#order + 1] = member.text end
	next_of[member.text] = next_at
	return true, fresh
end

-- One unit starting at ARGV[at]; returns the index after it and the number
-- of invoices updated.
local function commit_unit(cust, at)
	local ckey, sent_line, unit_stats = ARGV[at], ARGV[at + 1], ARGV[at + 2]
	local n = tonumber(ARGV[at + 3])
	local first = at + 4

	-- Every field the unit touches, read at once.
	local names, seen = {}, {}
	local function want(name)
		if not seen[name] then
			seen[name] = true
			names[#names + 1] = name
		end
	end
	for g = 0, n - 1 do
		local id = ARGV[first + g * 6]
		want('i:' .. id)
		if ARGV[first + g * 6 + 5] ~= '' then want('h:' .. id) end
	end
	if sent_line ~= '' then
		want('hist')
		want('sends')
	end
	local values = redis.call('HMGET', cust, unpack(names))
	local fields = {}
	for i, name in ipairs(names) do
		fields[name] = values[i] or nil
	end

	local updated, marked = 0, 0
	for g = 0, n - 1 do
		local base = first + g * 6
		local member = {id = ARGV[base],
			text = ckey .. SEP .. ARGV[base]}
		local ok, fresh = commit_invoice(fields, member, ARGV[base + 1],
			tonumber(ARGV[base + 2]), ARGV[base + 3],
			tonumber(ARGV[base + 4]), ARGV[base + 5])
		if ok then updated = updated + 1 end
		if fresh then marked = marked + 1 end
	end

	if sent_line ~= '' and marked > 0 then
		fields.hist = append_bounded(fields.hist, sent_line, SENDS_MAX)
		fields.sends = append_bounded(fields.sends, int(now), SENDS_MAX)
	end
	if unit_stats ~= '' and marked > 0 then
		for _, field in ipairs(split(unit_stats, ',')) do
			counts[field] = (counts[field] or 0) + 1
		end
	end

	-- Written back only what changed hands: the fields read, as now.
	local set = {}
	for _, name in ipairs(names) do
		if fields[name] then
			set[#set + 1] = name
			set[#set + 1] = fields[name]
		end
	end
	if #set > 0 and updated > 0 then
		redis.call('HSET', cust, unpack(set))
	end
	return first + n * 6, updated
end

local at, total = 3, 0
for u = 1, units do
	local updated
	at, updated = commit_unit(KEYS[3 + u], at)
	total = total + updated
end

local queued, dequeued = {}, {}
for _, member in ipairs(order) do
	local next_at = next_of[member]
	if next_at > 0 then
		queued[#queued + 1] = next_at
		queued[#queued + 1] = member
	else
		dequeued[#dequeued + 1] = member
	end
end
flush('ZREM', leases, released)
flush('ZADD', queue, queued)
flush('ZREM', queue, dequeued)
for field, count in pairs(counts) do
	redis.call('HINCRBY', stats, field, count)
end
return total
