-- wrk script: POST the bytes of $BENCH_BODY_FILE with the headers of $BENCH_HEADERS_FILE (one
-- "Name: value" a line); when $BENCH_DELIVERY_HEADER names a header, every request carries a
-- fresh UUID-shaped value in it (a sender's delivery id). Count 2xx answers exactly and keep
-- the request_id each one carries, written one a line to $BENCH_IDS_FILE when the run ends.
-- (wrk's own summary only counts status >= 400 as errors, so 2xx is counted here.)

local body_path = os.getenv("BENCH_BODY_FILE")
local headers_path = os.getenv("BENCH_HEADERS_FILE")
local delivery_header = os.getenv("BENCH_DELIVERY_HEADER") or ""
local ids_path = os.getenv("BENCH_IDS_FILE")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function init(args)
  local file = assert(io.open(body_path, "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
  if headers_path and headers_path ~= "" then
    for line in io.lines(headers_path) do
      local name, value = line:match("^([^:]+):%s*(.-)%s*$")
      if name then
        wrk.headers[name] = value
      end
    end
  end
  -- A random prefix per thread and a counter: unique delivery ids, no two threads alike.
  math.randomseed(os.time() * 1000 + thread_number)
  delivery_prefix = string.format(
    "%04x%04x-%04x-4%03x-%04x-",
    math.random(0, 65535), math.random(0, 65535), math.random(0, 65535),
    math.random(0, 4095), 32768 + math.random(0, 16383)
  )
  delivered = 0
  ok = 0
  other = 0
  ids = {}
end

if delivery_header ~= "" then
  -- Only defined when needed: without request(), wrk builds the request once and reuses it.
  function request()
    delivered = delivered + 1
    wrk.headers[delivery_header] = string.format("%s%012x", delivery_prefix, delivered)
    return wrk.format()
  end
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
