-- The load bench's request mix for wrk (bench/load.py --client wrk).
--
--   wrk -t2 -c8 -d30s --latency --timeout 30s -s bench/wrk/mix.lua http://127.0.0.1:PORT -- PATHS THREADS
--
-- PATHS is a file written by bench/load.py (`write_paths`): one request a line, "<kind>\t<path>",
-- drawn with the seed from the same popularity distribution as the httpx client (searches with
-- filters, sorts and pages; course details; suggestions). Each of the THREADS wrk threads starts
-- at its own offset (thread i at i * #paths / THREADS) and cycles through the file, so the
-- threads do not send the same sequence side by side.
--
-- done() prints one line "WRK_JSON {...}" for load.py to parse (`parse_wrk_output`): duration,
-- requests and bytes, socket errors, latency in microseconds (min, mean, stdev, max, p50, p90,
-- p95, p99, p99.9), responses by status, requests issued by kind, and the servers' search cache
-- outcomes (X-Search-Cache) by kind. Defining response() makes wrk hand every response's headers
-- and body to Lua: that costs wrk some CPU (load.py reports wrk's CPU seconds), and is what
-- gives per-status counts.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("id", counter)
   table.insert(threads, thread)
   counter = counter + 1
end

function init(args)
   local file = assert(io.open(args[1], "r"))
   kinds, requests = {}, {}
   for line in file:lines() do
      local kind, path = line:match("^(%S+)\t(%S+)$")
      if kind then
         kinds[#kinds + 1] = kind
         requests[#requests + 1] = wrk.format("GET", path)
      end
   end
   file:close()
   assert(#requests > 0, "no request paths in " .. args[1])
   local nthreads = tonumber(args[2]) or 1
   position = (id * math.floor(#requests / nthreads)) % #requests
   issued, statuses, cache = {}, {}, {}
end

function request()
   position = position + 1
   if position > #requests then
      position = 1
   end
   local kind = kinds[position]
   issued[kind] = (issued[kind] or 0) + 1
   return requests[position]
end

function response(status, headers, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   local outcome = headers["X-Search-Cache"] or headers["x-search-cache"]
   if outcome then
      -- only searches and suggestions carry the header; a suggestion's body names its list
      local kind = body:find('"suggestions":', 1, true) and "suggest" or "search"
      local slot = kind .. ":" .. outcome
      cache[slot] = (cache[slot] or 0) + 1
   end
end

local function encode(value)
   local kind = type(value)
   if kind == "table" then
      local keys = {}
      for k in pairs(value) do
         keys[#keys + 1] = tostring(k)
      end
      table.sort(keys)
      local parts = {}
      for _, k in ipairs(keys) do
         local v = value[k]
         if v == nil then
            v = value[tonumber(k)]
         end
         parts[#parts + 1] = string.format("%q", k) .. ":" .. encode(v)
      end
      return "{" .. table.concat(parts, ",") .. "}"
   elseif kind == "number" then
      if value ~= value or value == math.huge or value == -math.huge then
         return "null"
      elseif value == math.floor(value) and math.abs(value) < 2 ^ 53 then
         return string.format("%d", value)
      end
      return string.format("%.3f", value)
   elseif kind == "string" then
      return string.format("%q", value)
   elseif kind == "boolean" then
      return tostring(value)
   end
   return "null"
end

local function add(into, from)
   for k, v in pairs(from or {}) do
      into[k] = (into[k] or 0) + v
   end
end

function done(summary, latency, _)
   local status, issued_all, cache_all = {}, {}, {}
   for _, thread in ipairs(threads) do
      add(status, thread:get("statuses"))
      add(issued_all, thread:get("issued"))
      add(cache_all, thread:get("cache"))
   end
   local latency_us = {
      min = latency.min,
      mean = latency.mean,
      stdev = latency.stdev,
      max = latency.max,
   }
   for _, p in ipairs({ 50, 90, 95, 99, 99.9 }) do
      latency_us["p" .. p] = latency:percentile(p)
   end
   local report = {
      duration_us = summary.duration,
      requests = summary.requests,
      bytes = summary.bytes,
      errors = summary.errors,
      latency_us = latency_us,
      status = status,
      issued = issued_all,
      cache = cache_all,
      threads = #threads,
   }
   io.write("WRK_JSON " .. encode(report) .. "\n")
end
