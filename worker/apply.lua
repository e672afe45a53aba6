-- apply.lua: applies one ledger or message event to a customer's state.
-- SPDX-License-Identifier: Apache-2.0
--
-- A customer's state is one hash (docs/redis-keys.md): profile fields, and
-- per invoice a packed record "i:<id>", payments seen "y:<id>", how to pay
-- "m:<id>" and a bounded history "h:<id>". Every change that can move an
-- invoice's next action puts its delay-queue entry at "now" so that the
-- timer plans it again from the workflow; a closed invoice leaves the
-- queue and its lease at once. Applying an event twice changes nothing:
-- versions, payment ids and (for message events) a seen-marker make the
-- second application a no-op.
--
-- KEYS[1] customer hash, KEYS[2] delay queue, KEYS[3] leases,
-- KEYS[4] partition stats, KEYS[5] seen-marker of a message event
-- ARGV[1] kind, ARGV[2] customer key "tenant/customer", ARGV[3] invoice id
-- (or ""), ARGV[4] now on the product clock (ms), ARGV[5..] by kind.
-- A new invoice comes planned when the worker knew the customer's zone;
-- any other change is planned by the timer (queued at now).
-- Returns 1 when the event changed state, 0 for a duplicate or stale one.

local cust, queue, leases, stats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local kind, ckey, inv = ARGV[1], ARGV[2], ARGV[3]
local now = tonumber(ARGV[4])
local SEP = '\31'
local HISTORY_MAX = 24

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

-- Versions are decimal int64 text: compare without losing precision.
local function vcmp(a, b)
	if #a ~= #b then return #a < #b and -1 or 1 end
	if a == b then return 0 end
	return a < b and -1 or 1
end

local function int(n) return string.format('%d', n) end

local function load(id)
	local raw = redis.call('HGET', cust, 'i:' .. id)
	if not raw then return nil end
	local f = split(raw, '|')
	return {st = f[1], ver = f[2], sv = tonumber(f[3]), due = tonumber(f[4]),
		amount = tonumber(f[5]), cur = f[6], paid = tonumber(f[7]),
		ua = tonumber(f[8]), esc = f[9], steps = f[10] or ''}
end

local function stub(cur)
	return {st = 'u', ver = '0', sv = 0, due = 0, amount = 0, cur = cur,
		paid = 0, ua = 0, esc = '0', steps = ''}
end

local function save(id, r)
	redis.call('HSET', cust, 'i:' .. id, table.concat({r.st, r.ver,
		int(r.sv), int(r.due), int(r.amount), r.cur, int(r.paid),
		int(r.ua), r.esc, r.steps}, '|'))
end

local function history(id, line)
	local field = 'h:' .. id
	local old = redis.call('HGET', cust, field)
	local lines = old and split(old, '\n') or {}
	lines[#lines + 1] = int(now) .. ' ' .. line
	while #lines > HISTORY_MAX do table.remove(lines, 1) end
	redis.call('HSET', cust, field, table.concat(lines, '\n'))
end

local function plan(id)
	local member = ckey .. SEP .. id
	redis.call('ZADD', queue, now, member)
	redis.call('ZREM', leases, member)
end

local function unplan(id)
	local member = ckey .. SEP .. id
	redis.call('ZREM', queue, member)
	redis.call('ZREM', leases, member)
end

local function bump(field, by)
	redis.call('HINCRBY', stats, field, by or 1)
end

-- Unplans an invoice this event closes. When its entry's time had already
-- come (no timer decided it yet: the partition had no worker, or the timer
-- was behind), the reminder it held is suppressed by this event, and is
-- recorded so, like any suppression decided at fire time.
local function unplan_due(id, reason)
	local at = redis.call('ZSCORE', queue, ckey .. SEP .. id)
	if at and tonumber(at) <= now then
		bump('suppressed:' .. reason)
		history(id, 'suppressed ' .. reason)
	end
	unplan(id)
end

-- Days since 1970-01-01 of a YYYYMMDD civil date (proleptic Gregorian).
local function epoch_days(yyyymmdd)
	local y = math.floor(yyyymmdd / 10000)
	local m = math.floor(yyyymmdd / 100) % 100
	local d = yyyymmdd % 100
	if m <= 2 then y = y - 1 end
	local era = math.floor(y / 400)
	local yoe = y - era * 400
	local mp = (m + 9) % 12
	local doy = math.floor((153 * mp + 2) / 5) + d - 1
	local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
	return era * 146097 + doe - 719468
end

-- Open invoices of the customer, as {id, record} pairs.
local function open_invoices()
	local all = redis.call('HGETALL', cust)
	local out = {}
	for i = 1, #all, 2 do
		local name = all[i]
		if string.sub(name, 1, 2) == 'i:' and
		   string.sub(all[i + 1], 1, 2) == 'o|' then
			local id = string.sub(name, 3)
			out[#out + 1] = {id, load(id)}
		end
	end
	return out
end

local function ever_sent(r)
	return r.steps ~= '' and string.find(r.steps, '[1-9]') ~= nil
end

-- The latest instant a message about the invoice was sent (0 if never),
-- from its history lines "<instant> sent <step> <command>".
local function last_sent(id)
	local latest = 0
	local old = redis.call('HGET', cust, 'h:' .. id)
	for _, line in ipairs(old and split(old, '\n') or {}) do
		local at, what = string.match(line, '^(%d+) (%a+)')
		if what == 'sent' and tonumber(at) > latest then
			latest = tonumber(at)
		end
	end
	return latest
end

-- Closes an invoice as paid and counts how long it took; a reminder sent
-- after the payment happened counts in sent_after_paid (it must stay 0).
local function close_paid(id, r, paid_at)
	local was_open = r.st == 'o' or r.st == 'n' or r.st == 'd'
	r.st = 'p'
	unplan_due(id, 'paid')
	if not was_open then return end
	bump('invoices_paid')
	if ever_sent(r) then bump('paid_after_reminder') end
	if last_sent(id) > paid_at then bump('sent_after_paid') end
	if r.due > 0 then
		bump('time_to_pay_days_sum',
		     math.floor(paid_at / 86400000) - epoch_days(r.due))
		bump('time_to_pay_count')
	end
	history(id, 'paid')
end

---------------------------------------------------------------------------
-- Ledger events

local function invoice_upserted()
	local ver, due = ARGV[5], tonumber(ARGV[6])
	local amount, cur = tonumber(ARGV[7]), ARGV[8]
	local not_dunnable, how = ARGV[9] == '1', ARGV[10]
	local r = load(inv)
	local new_invoice = r == nil

	if r and r.st ~= 'u' and vcmp(ver, r.ver) <= 0 then return 0 end
	local fresh = not r or r.st == 'u' or r.ver == '0'
	r = r or stub(cur)
	local changed = fresh or r.due ~= due or r.amount ~= amount or
		r.cur ~= cur
	local was = r.st
	r.ver = ver
	if changed then r.sv = r.sv + 1 end
	r.due, r.amount, r.cur = due, amount, cur

	if r.st == 'u' or r.st == 'o' or r.st == 'n' then
		if r.paid < 0 or (r.paid > 0 and r.paid >= amount) then
			r.paid = amount
			r.st = 'o'
			close_paid(inv, r, now)
		elseif not_dunnable then
			r.st = 'n'
		else
			r.st = 'o'
		end
	end
	save(inv, r)
	if how ~= '' then redis.call('HSET', cust, 'm:' .. inv, how) end

	local opted_out = redis.call('HGET', cust, 'oi') == '2'
	-- ARGV[11], when given for an invoice never seen, is its first action
	-- as the worker planned it from the customer's zone: "0" for none.
	local first = new_invoice and ARGV[11] or nil
	if r.st == 'o' and due > 0 and opted_out and (changed or was ~= 'o') then
		-- Never planned: the customer asked for no reminders.
		bump('suppressed:opted_out')
		history(inv, 'suppressed opted_out')
	end
	if r.st == 'o' and due > 0 and not opted_out then
		if first == '0' then
			unplan(inv)
		elseif first and first ~= '' then
			redis.call('ZADD', queue, first, ckey .. SEP .. inv)
		elseif changed or was ~= 'o' then
			plan(inv)
		end
	else
		unplan(inv)
	end
	if r.st == 'o' and was ~= 'o' and fresh then bump('invoices_opened') end
	if r.st == 'n' and was ~= 'n' then
		bump('suppressed:not_dunnable')
		history(inv, 'suppressed not_dunnable')
	end
	return 1
end

local function payment_received()
	local pid, amount, cur = ARGV[5], tonumber(ARGV[6]), ARGV[7]
	local paid_at, settles = tonumber(ARGV[8]), ARGV[9] == '1'
	local seen = redis.call('HGET', cust, 'y:' .. inv)

	if seen then
		for _, id in ipairs(split(seen, ',')) do
			if id == pid then return 0 end
		end
	end
	redis.call('HSET', cust, 'y:' .. inv, seen and (seen .. ',' .. pid) or pid)
	local r = load(inv) or stub(cur)
	if r.st == 'u' then
		if settles then r.paid = -1
		elseif r.paid >= 0 then r.paid = r.paid + amount end
		save(inv, r)
		return 1
	end
	if r.st == 'p' or r.st == 'c' then return 1 end
	r.paid = settles and r.amount or r.paid + amount
	if settles or r.paid >= r.amount then
		close_paid(inv, r, paid_at)
	else
		history(inv, 'partial_payment ' .. pid)
	end
	save(inv, r)
	return 1
end

local function invoice_cancelled()
	local r = load(inv) or stub('')
	if r.st == 'c' or r.st == 'p' then return 0 end
	r.st = 'c'
	save(inv, r)
	unplan_due(inv, 'cancelled')
	history(inv, 'cancelled')
	return 1
end

local function invoice_disputed()
	local r = load(inv)
	if not r or (r.st ~= 'o' and r.st ~= 'n') then return 0 end
	r.st = 'd'
	save(inv, r)
	unplan_due(inv, 'disputed')
	history(inv, 'disputed')
	return 1
end

local function dispute_resolved()
	local r = load(inv)
	if not r or r.st ~= 'd' then return 0 end
	if ARGV[5] == '1' then
		r.st = 'o'
		r.sv = r.sv + 1
		if r.due > 0 then plan(inv) end
		history(inv, 'dispute_resolved upheld')
	else
		r.st = 'c'
		history(inv, 'dispute_resolved voided')
	end
	save(inv, r)
	return 1
end

local function customer_upserted()
	local ver = ARGV[5]
	local old = redis.call('HMGET', cust, 'cv', 'oi', 'tz', 'oo')
	if old[1] and vcmp(ver, old[1]) <= 0 then return 0 end
	local opt, opt_at, tz = ARGV[10], tonumber(ARGV[11]), ARGV[9]

	-- An opt-out typed by the customer outlives an older directory entry.
	if old[4] and opt == '1' and opt_at <= tonumber(old[4]) then opt = '2' end
	redis.call('HSET', cust, 'cv', ver, 'nm', ARGV[6], 'ph', ARGV[7],
		'lc', ARGV[8], 'tz', tz, 'oi', opt, 'sg', ARGV[12])
	if opt == '2' and old[2] ~= '2' then
		-- Opted out in the directory: nothing stays planned.
		for _, pair in ipairs(open_invoices()) do
			local r = pair[2]
			r.sv = r.sv + 1
			save(pair[1], r)
			unplan(pair[1])
		end
	elseif opt ~= '2' and ((opt == '1' and old[2] ~= '1') or
			       (old[3] and old[3] ~= tz)) then
		for _, pair in ipairs(open_invoices()) do plan(pair[1]) end
	end
	return 1
end

---------------------------------------------------------------------------
-- Message events

local STATUS_RANK = {sent = 1, delivered = 2, read = 3, failed = 4}

-- Updates the status of a sent command in the customer's recent sends
-- ("hist": command, step, sent at, status, invoices) and returns the
-- invoices it was about.
local function command_status(command, status)
	local old = redis.call('HGET', cust, 'hist')
	if not old or command == '' then return {} end
	local lines = split(old, '\n')
	for i, line in ipairs(lines) do
		local f = split(line, SEP)
		if f[1] == command then
			local was = STATUS_RANK[f[4]] or 0
			if (STATUS_RANK[status] or 0) > was then
				f[4] = status
				lines[i] = table.concat(f, SEP)
				redis.call('HSET', cust, 'hist',
					   table.concat(lines, '\n'))
			end
			return split(f[5] or '', ',')
		end
	end
	return {}
end

local function first_seen()
	return redis.call('SET', KEYS[5], '1', 'NX', 'EX', 2592000)
end

local function message_status()
	local command, status, code, wa = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
	if not first_seen() then return 0 end
	if wa ~= '' then redis.call('HSET', cust, 'wa', wa) end
	if status ~= 'sent' then bump(status) end
	local line = status .. (code ~= '0' and (' ' .. code) or '') ..
		' ' .. command
	-- The decision line already says it was sent: statuses after it only.
	for _, id in ipairs(command_status(command, status)) do
		if status ~= 'sent' and id ~= '' and
		   redis.call('HEXISTS', cust, 'i:' .. id) == 1 then
			history(id, line)
		end
	end
	return 1
end

local function message_reply()
	local stop, wa = ARGV[6] == '1', ARGV[7]
	if not first_seen() then return 0 end
	if wa ~= '' then redis.call('HSET', cust, 'wa', wa) end
	bump('replied')
	redis.call('HSET', cust, 'lr', int(now))
	for _, pair in ipairs(open_invoices()) do
		local id, r = pair[1], pair[2]
		r.ua = 0
		if stop then
			-- A new schedule version: a decision taken before the
			-- opt-out can no longer put the invoice back in the queue.
			r.sv = r.sv + 1
			unplan(id)
			history(id, 'suppressed opted_out')
		end
		save(id, r)
	end
	if stop then
		redis.call('HSET', cust, 'oi', '2', 'oo', int(now))
		bump('opted_out')
	end
	return 1
end

local handlers = {
	invoice = invoice_upserted, payment = payment_received,
	cancel = invoice_cancelled, dispute = invoice_disputed,
	resolve = dispute_resolved, customer = customer_upserted,
	status = message_status, reply = message_reply,
}
local handler = handlers[kind]
if not handler then return redis.error_reply('unknown event kind ' .. kind) end
return handler()
