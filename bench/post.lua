-- wrk script: POST the bytes of $BENCH_BODY_FILE as JSON; count 2xx answers exactly and keep
-- the request_id each one carries, written one a line to $BENCH_IDS_FILE when the run ends.
-- (wrk's own summary only counts status >= 400 as errors, so 2xx is counted here.)

local body_path = os.getenv("BENCH_BODY_FILE")
local ids_path = os.getenv("BENCH_IDS_FILE")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(body_path, "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
  ok = 0
  other = 0
  ids = {}
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
    local id = body:match('"request_id"%s*:%s*(%d+)')
    if id then
      ids[#ids + 1] = id
    end
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local out = assert(io.open(ids_path, "w"))
  local total_ok, total_other = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_other = total_other + thread:get("other")
    for _, id in ipairs(thread:get("ids")) do
      out:write(id, "\n")
    end
  end
  out:close()
  io.write(string.format("BENCH 2xx=%d other=%d\n", total_ok, total_other))
end
