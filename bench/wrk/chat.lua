-- bench/wrk/chat.lua: POST a small non-streaming chat completion.
--   BENCH_AUTH   the Authorization header value ("Bearer ...")
--   BENCH_STREAM "1": ask for an SSE stream
--   BENCH_CHUNKS content deltas the mock upstream sends (default 3)
--   BENCH_DELAY_MS  wait this long between a connection's requests
--                (paces the load for the latency-at-a-fixed-rate run)
-- done() prints one machine-readable line that bench/run parses:
--   BENCH requests=N duration_us=N rps=R errors=N p50=US p99=US p999=US
local auth = os.getenv("BENCH_AUTH") or ""
local stream = os.getenv("BENCH_STREAM") == "1"
local chunks = tonumber(os.getenv("BENCH_CHUNKS") or "3")
local pace = tonumber(os.getenv("BENCH_DELAY_MS") or "0")

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = auth
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user",' ..
    '"content":"Say hello in five words."}],"max_tokens":16' ..
    (stream and ',"stream":true,"stream_options":{"include_usage":true}' or '') ..
    ',"mock":{"chunks":' .. chunks .. '}}'

if pace > 0 then
	function delay() return pace end
end

function done(summary, latency, requests)
	local e = summary.errors
	local errs = e.connect + e.read + e.write + e.status + e.timeout
	io.write(string.format(
	    "BENCH requests=%d duration_us=%d rps=%.1f errors=%d p50=%d p99=%d p999=%d\n",
	    summary.requests, summary.duration,
	    summary.requests / (summary.duration / 1e6), errs,
	    latency:percentile(50), latency:percentile(99),
	    latency:percentile(99.9)))
end
