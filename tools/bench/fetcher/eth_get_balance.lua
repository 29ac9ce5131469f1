-- wrk script for the fetcher benchmark's node ceilings: POSTs eth_getBalance
-- to the node, cycling through the benchmark's addresses (ADDRESSES in the
-- environment, default 20000) as baseline.py defines them, one call per
-- request (f) or BATCH calls per JSON-RPC batch array (f_batched, BATCH=100).
-- An answer that is not HTTP 200 or holds fewer "result"s than the calls of
-- a request counts as an error.
--
--   ADDRESSES=20000 wrk -t2 -c20 -d5s -s eth_get_balance.lua http://127.0.0.1:8545
--   BATCH=100 ADDRESSES=20000 wrk -t2 -c20 -d5s -s eth_get_balance.lua http://127.0.0.1:8545
--
-- The summary line "json_rpc_errors N" follows wrk's own report.
local addresses = tonumber(os.getenv("ADDRESSES") or "20000")
local batch = tonumber(os.getenv("BATCH") or "1")
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- One call for address i: 0xbe0c0ffee0000000 + i as 40 hex digits, spelt
-- out (Lua numbers are doubles, exact only below 2^53).
local function call(i)
  return string.format(
    '{"jsonrpc":"2.0","id":%d,"method":"eth_getBalance","params":' ..
    '["0x000000000000000000000000be0c0ffee%07x","latest"]}', i, i)
end

function init(args)
  errors = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  -- Every request built once, before the clock runs: wrk's threads share
  -- the CPUs with the node, and building 100 calls per request would take
  -- from it. fewest: the calls in the smallest request (the last batch may
  -- be short), the "result"s every answer must hold at least.
  requests = {}
  fewest = batch
  local first = 0
  while first < addresses do
    local last = math.min(first + batch, addresses) - 1
    local body
    if batch <= 1 then
      body = call(first)
    else
      local calls = {}
      for i = first, last do
        calls[#calls + 1] = call(i)
      end
      body = "[" .. table.concat(calls, ",") .. "]"
    end
    requests[#requests + 1] = wrk.format(nil, "/", nil, body)
    fewest = math.min(fewest, last - first + 1)
    first = last + 1
  end
  -- Threads start far apart in the address list.
  next_request = (id * 7919) % #requests
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    return
  end
  local _, results = string.gsub(body, '"result"', "")
  if results < fewest then
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
