-- Charges (or refunds, when negative) cost to a limit after the fact, never rejecting: used for
-- tokens per minute, where the real count is known only when the answer is complete.
-- KEYS: 1 the limit ; ARGV: 1 now µs, 2 interval µs, 3 cost
local now = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
tat = tat + tonumber(ARGV[3]) * tonumber(ARGV[2])
if tat <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return 1
