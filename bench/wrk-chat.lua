-- bench/wrk-chat.lua - wrk script: POST /v1/chat/completions.
--
--   wrk ... -s bench/wrk-chat.lua -- TOKEN MODE [MODEL] [PATH] [HEADER...]
--
-- MODE: "stateless" (no session), "one" (every request continues one
-- session), "distinct" (each request starts a session of its own).
-- MODEL defaults to "openclaw" (the default agent); PATH to
-- /v1/chat/completions (a prefix for a gateway mounted elsewhere).
-- Each HEADER ("Name: value") is sent as well.

local token, mode, model, path
local n = 0

-- A prefix for the thread's session keys, new in every run: unseeded,
-- math.random gives every wrk run the same numbers, and "distinct"
-- sessions then went on the sessions of the run before.
function setup(thread)
	local f = assert(io.open("/dev/urandom", "rb"))
	local bytes = f:read(8)
	f:close()
	thread:set("tid", (bytes:gsub(".", function(c)
		return string.format("%02x", c:byte())
	end)))
end

function init(args)
	token = args[1]
	mode = args[2] or "stateless"
	model = args[3] or "openclaw"
	path = args[4] or "/v1/chat/completions"
	wrk.method = "POST"
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Authorization"] = "Bearer " .. token
	for i = 5, #args do
		local name, value = args[i]:match("^([^:]+):%s*(.*)$")
		wrk.headers[name] = value
	end
end

function request()
	local user = ""
	n = n + 1
	if mode == "one" then
		user = ',"user":"bench-one"'
	elseif mode == "distinct" then
		user = string.format(',"user":"bench-%s-%d"', tid, n)
	end
	local body = '{"model":"' .. model .. '","messages":[{"role":"user",' ..
		'"content":"Say hello in one short sentence."}]' .. user .. '}'
	return wrk.format(nil, path, nil, body)
end
