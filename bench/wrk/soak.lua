-- bench/wrk/soak.lua: the mixed constant load of bench/soak.  Each
-- connection cycles through the requests below, pausing SOAK_DELAY_MS
-- between two: plain and streamed answers on both APIs, embeddings, the
-- provider's 429 and 500, a reset mid-stream, an invalid status line,
-- garbage, a model the app may not use, a bad key, an unknown path and a
-- rate-limited app.
--   SOAK_KEY       the app key; SOAK_LIMITED_KEY the rate-limited app's
--   SOAK_DELAY_MS  pause between a connection's requests (default 10)
-- done() prints one line bench/soak parses:
--   SOAK requests=N non2xx=N socket_errors=N
local key = os.getenv("SOAK_KEY") or ""
local limited = os.getenv("SOAK_LIMITED_KEY") or ""
local pace = tonumber(os.getenv("SOAK_DELAY_MS") or "10")
local reqs = {}
local i = 0

local function add(path, k, body, anthropic)
	local h = {["Content-Type"] = "application/json"}
	if anthropic then
		h["x-api-key"] = k
		h["anthropic-version"] = "2023-06-01"
	else
		h["Authorization"] = "Bearer " .. k
	end
	table.insert(reqs, wrk.format("POST", path, h, body))
end

local msgs = '"messages":[{"role":"user","content":"Say hello in five words."}]'
local function chat(extra)
	return '{"model":"gpt-4o-mini","max_tokens":64,' .. msgs .. extra .. '}'
end

function init(args)
	local c = "/v1/chat/completions"
	add(c, key, chat(''))
	add(c, key, chat(',"stream":true,"stream_options":{"include_usage":true},"mock":{"chunks":20}'))
	add("/v1/messages", key, '{"model":"claude-haiku-4-5","max_tokens":64,"stream":true,' ..
	    msgs .. ',"mock":{"chunks":10}}', true)
	add(c, key, chat(',"stream":true,"mock":{"chunks":5,"split":7}'))
	add("/v1/embeddings", key, '{"model":"text-embedding-3-small","input":["a","b"]}')
	add("/v1/messages", key, '{"model":"claude-haiku-4-5","max_tokens":64,' .. msgs .. '}', true)
	add(c, key, chat(',"mock":{"status":500}'))
	add(c, key, chat(',"mock":{"status":429}'))
	add(c, key, chat(',"stream":true,"mock":{"chunks":10,"reset_after":3}'))
	add(c, key, chat(',"mock":{"hostile":"bad_status"}'))
	add(c, key, chat(',"mock":{"garbage":true}'))
	add(c, key, '{"model":"gpt-4o",' .. msgs .. '}')
	add(c, "tg_nosuchkey_NoSuchSecretNoSuchSecretNoSuchSecret0", chat(''))
	add("/v1/nothing", key, chat(''))
	add(c, limited, chat(''))
	add(c, key, 'not json')
end

function request()
	i = i % #reqs + 1
	return reqs[i]
end

if pace > 0 then
	function delay() return pace end
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("SOAK requests=%d non2xx=%d socket_errors=%d\n",
	    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
