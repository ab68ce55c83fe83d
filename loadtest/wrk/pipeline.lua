-- pipeline.lua: wrk sends `depth` requests per write (default 16), the
-- TechEmpower plaintext shape. Each response is counted as one request.
--
--   wrk -t1 -c 1000 -d 10s --latency -s loadtest/wrk/pipeline.lua URL -- 16
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format()
  end
  req = table.concat(r)
end

request = function()
  return req
end
