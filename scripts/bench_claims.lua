-- wrk script for claim-next (scripts/bench-read.sh): run with as many threads as connections,
-- each thread one reviewer with its own token (one per line of the file CLAIMERS names). A
-- reviewer calls `POST /v1/review/claim-next` back to back and stops at the first 204 (the
-- queue is empty) or error. At the end it writes every claimed case id, one per line, to the
-- file CLAIMED names, and prints one JSON line: calls, errors, latency p50/p99/max in ms.

local tokens = {}
for line in io.lines(os.getenv("CLAIMERS")) do
  tokens[#tokens + 1] = line
end

local threads = {}

function setup(thread)
  thread:set("token", tokens[#threads + 1])
  threads[#threads + 1] = thread
end

function init(args)
  wrk.method = "POST"
  wrk.headers["authorization"] = "Bearer " .. token
  claimed = ""
  errors = 0
  last_error = ""
end

function response(status, headers, body)
  if status == 200 then
    claimed = claimed .. body:match('"id"%s*:%s*"([^"]+)"') .. "\n"
  elseif status == 204 then
    wrk.thread:stop()
  else
    errors = errors + 1
    last_error = status .. " " .. body:sub(1, 200)
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("CLAIMED"), "w")
  local errors, last_error = 0, ""
  for _, thread in ipairs(threads) do
    out:write(thread:get("claimed"))
    errors = errors + thread:get("errors")
    if thread:get("last_error") ~= "" then
      last_error = thread:get("last_error")
    end
  end
  out:close()
  io.write(string.format(
    '{"calls": %d, "errors": %d, "last_error": "%s", "p50_ms": %.1f, "p99_ms": %.1f, "max_ms": %.1f}\n',
    summary.requests, errors, last_error:gsub('[%c"\\]', " "),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
