-- GCRA over several limits at once, all or nothing: a request is admitted only if every limit
-- admits it, and only then is every limit charged.
-- KEYS: one per limit (its theoretical arrival time, µs)
-- ARGV: 1 now µs, then per limit: interval µs, period µs, cost
-- Returns per limit {allowed 1/0, remaining, reset µs, retry after µs} flattened; a cost above
-- the whole limit can never pass and answers retry after -1.
local now = tonumber(ARGV[1])
local results = {}
local admitted = true
local updates = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 + (i - 1) * 3])
  local period = tonumber(ARGV[3 + (i - 1) * 3])
  local cost = tonumber(ARGV[4 + (i - 1) * 3])
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  local new_tat = tat + cost * interval
  local allow_at = new_tat - period
  if cost * interval > period then
    admitted = false
    table.insert(results, {0, 0, tat - now, -1})
  elseif allow_at > now then
    admitted = false
    table.insert(results, {0, math.floor((now + period - tat) / interval), tat - now, allow_at - now})
  else
    table.insert(results, {1, math.floor((now + period - new_tat) / interval), new_tat - now, 0})
    updates[i] = new_tat
  end
end
local flat = {}
for i, key in ipairs(KEYS) do
  if admitted then
    redis.call('SET', key, string.format('%.0f', updates[i]), 'PX', math.ceil((updates[i] - now) / 1000) + 1000)
  end
  for _, value in ipairs(results[i]) do
    table.insert(flat, string.format('%.0f', value))
  end
end
return flat
