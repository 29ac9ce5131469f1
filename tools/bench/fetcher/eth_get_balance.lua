-- wrk script for the fetcher benchmark's ceiling (f): POSTs one
-- eth_getBalance per request to the node, cycling through the benchmark's
-- addresses (ADDRESSES in the environment, default 20000) as baseline.py
-- defines them, and counts answers without a "result" as errors.
--
--   ADDRESSES=20000 wrk -t2 -c20 -d5s -s eth_get_balance.lua http://127.0.0.1:8545
--
-- The summary line "json_rpc_errors N" follows wrk's own report.
local addresses = tonumber(os.getenv("ADDRESSES") or "20000")
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  -- Threads start far apart in the address list.
  next_index = id * 7919
  errors = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local i = next_index % addresses
  next_index = next_index + 1
  -- 0xbe0c0ffee0000000 + i as 40 hex digits, spelt out: Lua numbers are
  -- doubles, exact only below 2^53.
  local body = string.format(
    '{"jsonrpc":"2.0","id":%d,"method":"eth_getBalance","params":' ..
    '["0x000000000000000000000000be0c0ffee%07x","latest"]}', i, i)
  return wrk.format(nil, "/", nil, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"result"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("errors")
  end
  io.write(string.format("json_rpc_errors %d\n", total))
end
