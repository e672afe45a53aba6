-- prelude.lua: local functions the worker's Lua scripts share.
-- SPDX-License-Identifier: Apache-2.0
--
-- Not a script of its own: scripts/lua2c.sh puts it in front of each
-- script of this folder at build time, so that every script Redis runs
-- stays self-contained. Only local functions here: a Redis script may not
-- define globals.

-- The pieces of s between occurrences of sep (plain text, not a pattern);
-- an empty s gives one empty piece.
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
