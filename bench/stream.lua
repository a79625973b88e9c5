-- wrk script: walk a list of request paths instead of repeating one (bench/run.py writes the list).
--
--   BENCH_URLS=/tmp/paths.txt wrk -t2 -c32 -d7s -s bench/stream.lua -H "Authorization: Bearer …" http://127.0.0.1:8000
--
-- The file has one path per line. The threads take the paths in turn (thread 1 the 1st, 3rd, 5th …, thread 2 the
-- 2nd, 4th …), so every path is asked once before any is asked again; `done` prints one line for bench/run.py:
--   BENCH <requests> <duration µs> <socket errors> <non-2xx> <p50 µs> <p95 µs> <p99 µs> <paths> <max µs>
-- A request beyond <paths> repeats an earlier path (and may be answered from a cache): run.py reports how many.

local paths = {}
local file = assert(io.open(assert(os.getenv("BENCH_URLS"), "set BENCH_URLS"), "r"))
for line in file:lines() do
  if line ~= "" then
    paths[#paths + 1] = line
  end
end
file:close()

local threads = 0

function setup(thread)
  thread:set("slot", threads)
  threads = threads + 1
end

function init(args)
  -- `slot` was set by setup(); the number of threads is known only once every thread exists, so the step is
  -- read from the environment (run.py passes the same number to -t).
  step = tonumber(os.getenv("BENCH_THREADS") or "1")
  index = slot
end

function request()
  local path = paths[(index % #paths) + 1]
  index = index + step
  return wrk.format("GET", path)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %f %f %f %d %f\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), #paths, latency.max))
end
