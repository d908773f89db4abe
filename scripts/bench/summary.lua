-- wrk's own figures as one JSON line (prefix "WRKJSON "), so scripts/bench.py reads numbers
-- instead of parsing wrk's human-readable report. Defines no response() hook: wrk then skips
-- collecting headers and bodies, so the measured runs pay nothing for this script.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function encode(value)
  local kind = type(value)
  if kind == "table" then
    local parts = {}
    for key, item in pairs(value) do
      table.insert(parts, string.format("%q:%s", tostring(key), encode(item)))
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif kind == "string" then
    return string.format("%q", value)
  elseif kind == "number" then
    return string.format("%.17g", value)
  end
  return tostring(value)
end

-- Merges what each thread's response() hook counted (absent in plain runs).
local function thread_counts()
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("counts")
    if counts then
      for key, n in pairs(counts) do
        merged[key] = (merged[key] or 0) + n
      end
    end
  end
  return merged
end

function done(summary, latency, requests)
  local result = {
    duration_us = summary.duration,
    requests = summary.requests,
    bytes = summary.bytes,
    errors = {
      connect = summary.errors.connect,
      read = summary.errors.read,
      write = summary.errors.write,
      status = summary.errors.status,
      timeout = summary.errors.timeout,
    },
    latency_us = {
      mean = latency.mean,
      max = latency.max,
      p50 = latency:percentile(50),
      p90 = latency:percentile(90),
      p99 = latency:percentile(99),
    },
    counts = thread_counts(),
  }
  io.write("WRKJSON " .. encode(result) .. "\n")
end
