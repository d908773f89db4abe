-- summary.lua plus a response() hook that counts every answer by status and sorts failures
-- into RFC 9457 problem answers with status 503/504 (what the aggregator must give when a
-- word service is down) and anything else. wrk itself only counts "non-2xx".

local here = debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./"
dofile(here .. "summary.lua")

counts = {}

local function content_type(headers)
  for name, value in pairs(headers) do
    if string.lower(name) == "content-type" then
      return string.lower(value)
    end
  end
  return ""
end

function response(status, headers, body)
  local key = tostring(status)
  counts[key] = (counts[key] or 0) + 1
  if status >= 200 and status < 300 then
    return
  end
  local problem = content_type(headers):find("application/problem+json", 1, true) == 1
  if problem and (status == 503 or status == 504) then
    counts.problem_failures = (counts.problem_failures or 0) + 1
  else
    counts.non_problem_failures = (counts.non_problem_failures or 0) + 1
  end
end
