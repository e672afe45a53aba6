-- apply.lua: applies a batch of ledger and message events of one partition.
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
-- One call applies any number of events of one partition, in order: the
-- per-call cost of a script in Redis is paid once for all of them. Each
-- event is applied as if it were a call of its own: an error stops that
-- event (what it changed before the error stays, as it would have) and
-- the next one is applied all the same.
--
-- KEYS[1] delay queue, KEYS[2] leases, KEYS[3] partition stats, then per
-- event its customer hash, and for a message event (kinds in SEEN_KINDS)
-- its seen-marker: a ledger event declares no key it does not use.
-- ARGV[1] now on the product clock (ms), then per event in the order of
-- its keys a count n and n arguments: kind, customer key
-- "tenant/customer", invoice id (or ""), then the parameters of the
-- kind's handler (see each).
-- A new invoice comes planned when the worker knew the customer's zone;
-- any other change is planned by the timer (queued at now).
-- Returns an array with one result per event: 1 when the event changed
-- state, 0 for a duplicate or stale one, or an error.

-- split comes from prelude.lua, put in front of this script at build time.

local queue, leases, stats = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[1])
local now_text = ARGV[1] -- as Redis takes it, without a conversion
-- The event being applied, set by the loop at the end for each event.
local cust, seen_key, kind, ckey, inv
local SEP = '\31'
local HISTORY_MAX = 24

-- Versions are decimal int64 text: compare without losing precision.
local function vcmp(a, b)
	if #a ~= #b then return #a < #b and -1 or 1 end
	if a == b then return 0 end
	return a < b and -1 or 1
end

-- An invoice from its packed record (nil when there is none).
local function unpack_invoice(raw)
	if not raw then return nil end
	local f = split(raw, '|')
	return {st = f[1], ver = f[2], sv = tonumber(f[3]), due = tonumber(f[4]),
		amount = tonumber(f[5]), cur = f[6], paid = tonumber(f[7]),
		ua = tonumber(f[8]), esc = f[9], steps = f[10] or ''}
end

local function load(id)
	return unpack_invoice(redis.call('HGET', cust, 'i:' .. id))
end

local function stub(cur)
	return {st = 'u', ver = '0', sv = 0, due = 0, amount = 0, cur = cur,
		paid = 0, ua = 0, esc = '0', steps = ''}
end

-- Writes the invoice's record, and the further field-value pairs given.
local function save(id, r, ...)
	redis.call('HSET', cust, 'i:' .. id, string.format(
		'%s|%s|%d|%d|%d|%s|%d|%d|%s|%s', r.st, r.ver, r.sv, r.due,
		r.amount, r.cur, r.paid, r.ua, r.esc, r.steps), ...)
end

local function history(id, line)
	local field = 'h:' .. id
	local old = redis.call('HGET', cust, field)
	local lines = old and split(old, '\n') or {}
	lines[#lines + 1] = now_text .. ' ' .. line
	while #lines > HISTORY_MAX do table.remove(lines, 1) end
	redis.call('HSET', cust, field, table.concat(lines, '\n'))
end

-- First actions of new invoices as score, member pairs, added to the
-- queue with one ZADD for the whole call instead of one per invoice. Any
-- other use of the queue adds them first, so that each event sees the
-- queue as the events before it left it.
local firsts = {}
local FIRSTS_MAX = 1024 -- values per ZADD, well under Lua's stack limit

local function queue_firsts()
	if #firsts == 0 then return end
	redis.call('ZADD', queue, unpack(firsts))
	firsts = {}
end

local function plan(id)
	local member = ckey .. SEP .. id
	queue_firsts()
	redis.call('ZADD', queue, now_text, member)
	redis.call('ZREM', leases, member)
end

local function unplan(id)
	local member = ckey .. SEP .. id
	queue_firsts()
	redis.call('ZREM', queue, member)
	redis.call('ZREM', leases, member)
end

-- Counters of the partition's stats, added up over the call and written
-- once at its end.
local counts = {}

local function bump(field, by)
	counts[field] = (counts[field] or 0) + (by or 1)
end

-- Unplans an invoice this event closes. When its entry's time had already
-- come (no timer decided it yet: the partition had no worker, or the timer
-- was behind), the reminder it held is suppressed by this event, and is
-- recorded so, like any suppression decided at fire time.
local function unplan_due(id, reason)
	queue_firsts()
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

-- Queues a new invoice at the first action the worker planned ("0":
-- none, it leaves the queue); returns false when no plan came with it.
local function queue_first(first)
	if first == '0' then
		unplan(inv)
	elseif first and first ~= '' then
		firsts[#firsts + 1] = first
		firsts[#firsts + 1] = ckey .. SEP .. inv
		if #firsts >= FIRSTS_MAX then queue_firsts() end
	else
		return false
	end
	return true
end

-- version, due date as YYYYMMDD ("0": none), amount in minor units,
-- currency, "1" when not dunnable, how to pay ("" for none), and for a new
-- invoice its first action as the worker planned it from the customer's
-- zone ("0": none; absent: queue it at now for the timer to plan).
-- The usual event of a bulk import: a new invoice to remind, of a
-- customer not opted out. Its record is written as invoice_upserted
-- would write it (a stub made open, schedule version 1), from the
-- arguments' text as they came, without a conversion of numbers.
local function new_open_invoice(ver, due, amount, cur, how, first)
	local record = 'o|' .. ver .. '|1|' .. due .. '|' .. amount .. '|' ..
		cur .. '|0|0|0|'
	if how ~= '' then
		redis.call('HSET', cust, 'i:' .. inv, record, 'm:' .. inv, how)
	else
		redis.call('HSET', cust, 'i:' .. inv, record)
	end
	if not queue_first(first) then plan(inv) end
	bump('invoices_opened')
	return 1
end

local function invoice_upserted(ver, due, amount, cur, not_dunnable, how,
				first)
	local stored = redis.call('HMGET', cust, 'i:' .. inv, 'oi')
	if not stored[1] and stored[2] ~= '2' and not_dunnable == '0' and
	   due ~= '0' then
		return new_open_invoice(ver, due, amount, cur, how, first)
	end
	due, amount = tonumber(due), tonumber(amount)
	not_dunnable = not_dunnable == '1'
	local r = unpack_invoice(stored[1])
	local opted_out = stored[2] == '2'
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
	if how ~= '' then save(inv, r, 'm:' .. inv, how) else save(inv, r) end

	if not new_invoice then first = nil end
	if r.st == 'o' and due > 0 and opted_out and (changed or was ~= 'o') then
		-- Never planned: the customer asked for no reminders.
		bump('suppressed:opted_out')
		history(inv, 'suppressed opted_out')
	end
	if r.st == 'o' and due > 0 and not opted_out then
		if not queue_first(first) and (changed or was ~= 'o') then
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

-- payment id, amount in minor units, currency, instant paid, "1" when it
-- settles the invoice whatever its amount.
local function payment_received(pid, amount, cur, paid_at, settles)
	amount, paid_at, settles = tonumber(amount), tonumber(paid_at),
		settles == '1'
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

-- "1" when the invoice was upheld, "0" when it was voided.
local function dispute_resolved(upheld)
	local r = load(inv)
	if not r or r.st ~= 'd' then return 0 end
	if upheld == '1' then
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

-- version, name, phone, locale, time zone, opt-in ("0" unknown, "1" in,
-- "2" out), instant of the opt-in, segment.
local function customer_upserted(ver, name, phone, locale, tz, opt, opt_at,
				 segment)
	opt_at = tonumber(opt_at)
	local old = redis.call('HMGET', cust, 'cv', 'oi', 'tz', 'oo')
	if old[1] and vcmp(ver, old[1]) <= 0 then return 0 end

	-- An opt-out typed by the customer outlives an older directory entry.
	if old[4] and opt == '1' and opt_at <= tonumber(old[4]) then opt = '2' end
	redis.call('HSET', cust, 'cv', ver, 'nm', name, 'ph', phone,
		'lc', locale, 'tz', tz, 'oi', opt, 'sg', segment)
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
	return redis.call('SET', seen_key, '1', 'NX', 'EX', 2592000)
end

-- event id, command id, status (sent, delivered, read, failed), error
-- code ("0" for none), WhatsApp id ("" when unknown).
local function message_status(_, command, status, code, wa)
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

-- event id, "1" when the reply asks to stop reminders, WhatsApp id.
local function message_reply(_, stop, wa)
	stop = stop == '1'
	if not first_seen() then return 0 end
	if wa ~= '' then redis.call('HSET', cust, 'wa', wa) end
	bump('replied')
	redis.call('HSET', cust, 'lr', now_text)
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
		redis.call('HSET', cust, 'oi', '2', 'oo', now_text)
		bump('opted_out')
	end
	return 1
end

-- Kinds of event that come with a seen-marker key.
local SEEN_KINDS = {status = true, reply = true}

local handlers = {
	invoice = invoice_upserted, payment = payment_received,
	cancel = invoice_cancelled, dispute = invoice_disputed,
	resolve = dispute_resolved, customer = customer_upserted,
	status = message_status, reply = message_reply,
}

-- The text of an error raised while applying an event: redis.call raises
-- a table, Lua itself a string.
local function error_text(e)
	if type(e) == 'table' and e.err then return e.err end
	return tostring(e)
end

local results = {}
local at = 2
local key = 4
local i = 0
while at <= #ARGV do
	local n = tonumber(ARGV[at])
	i = i + 1
	kind, ckey, inv = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
	cust, seen_key = KEYS[key], nil
	key = key + 1
	if SEEN_KINDS[kind] then
		seen_key = KEYS[key]
		key = key + 1
	end

	local handler = handlers[kind]
	if not handler then
		results[i] = {err = 'unknown event kind ' .. tostring(kind)}
	else
		local ok, result = pcall(handler, unpack(ARGV, at + 4, at + n))
		results[i] = ok and result or {err = error_text(result)}
	end
	at = at + n + 1
end
queue_firsts()
for field, by in pairs(counts) do redis.call('HINCRBY', stats, field, by) end
return results
