-- wrk script for scripts/bench-webhook.sh: POSTs pre-signed route pushes, one line of the
-- bodies file per request, never the same one twice. Thread t of n sends lines t, t+n, t+2n, ...
-- in order, so each shipment's steps (a wave apart in the file) arrive in order.
-- Usage: wrk ... -s bench_webhook.lua URL -- BODIES_FILE THREADS [CONTENT_TYPE]

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  local path, count = args[1], tonumber(args[2])
  bodies = {}
  local n = 0
  for line in io.lines(path) do
    if n % count == id then
      bodies[#bodies + 1] = line
    end
    n = n + 1
  end
  sent = 0
  exhausted = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[3] or "application/x-www-form-urlencoded"
end

function request()
  if sent >= #bodies then
    -- Out of distinct pushes: replaying one would only measure the dedupe path.
    exhausted = exhausted + 1
    wrk.thread:stop()
    return wrk.format(nil, nil, nil, bodies[#bodies])
  end
  sent = sent + 1
  return wrk.format(nil, nil, nil, bodies[sent])
end

function done(summary, latency, requests)
  local per_thread, out_of_bodies = {}, 0
  for _, thread in ipairs(threads) do
    per_thread[#per_thread + 1] = tostring(thread:get("sent"))
    out_of_bodies = out_of_bodies + thread:get("exhausted")
  end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"non_2xx":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%d,' ..
    '"sent_per_thread":[%s],"out_of_bodies":%d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(per_thread, ","), out_of_bodies))
end
