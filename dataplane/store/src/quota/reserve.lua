-- Reserve `amount` against a user's balance and, when the key has a spending cap or the tenant a
-- monthly budget, against those.
-- KEYS: 1 user hash, 2 key hash, 3 hold hash, 4 expiry zset, 5 budget hash
-- ARGV: 1 amount, 2 cap (-1: no cap), 3 expires_at ms, 4 request id, 5 user id, 6 key id, 7 hash ttl s,
--       8 budget cap (-1: no budget), 9 budget id
-- Returns {code, number}: {1, available after} reserved (or already held); {0, available}
-- insufficient balance; {2, remaining} key cap reached; {3, remaining} budget exhausted; {-1, 0}
-- balance unknown; {-2, 0} key spend unknown; {-3, 0} budget spend unknown (the caller loads it
-- from the database and retries).
if redis.call('EXISTS', KEYS[3]) == 1 then
  return {1, 0}
end
local balance = redis.call('HGET', KEYS[1], 'bal')
if not balance then
  return {-1, 0}
end
local amount = tonumber(ARGV[1])
local available = tonumber(balance) - tonumber(redis.call('HGET', KEYS[1], 'held') or '0')
if available < amount then
  return {0, available}
end
-- A spending cap (a key's, or the tenant's month): nil when `amount` fits under it, else the
-- answer to give ({unknown_code, 0} while its spend is not cached, {refused_code, remaining}).
local function over_cap(hash, cap, unknown_code, refused_code)
  if cap < 0 then return nil end
  local spent = redis.call('HGET', hash, 'spent')
  if not spent then return {unknown_code, 0} end
  local remaining = cap - tonumber(spent) - tonumber(redis.call('HGET', hash, 'held') or '0')
  if remaining < amount then return {refused_code, remaining} end
  return nil
end
local cap = tonumber(ARGV[2])
local budget_cap = tonumber(ARGV[8])
local refused = over_cap(KEYS[2], cap, -2, 2) or over_cap(KEYS[5], budget_cap, -3, 3)
if refused then
  return refused
end
-- Every check passed: hold against all of them.
if cap >= 0 then
  redis.call('HINCRBY', KEYS[2], 'held', amount)
  redis.call('EXPIRE', KEYS[2], ARGV[7])
end
local budget = ''
if budget_cap >= 0 then
  redis.call('HINCRBY', KEYS[5], 'held', amount)
  redis.call('EXPIRE', KEYS[5], ARGV[7])
  budget = ARGV[9]
end
redis.call('HINCRBY', KEYS[1], 'held', amount)
redis.call('EXPIRE', KEYS[1], ARGV[7])
local capped = 0
if cap >= 0 then capped = 1 end
redis.call('HSET', KEYS[3], 'user', ARGV[5], 'key', ARGV[6], 'amount', amount, 'capped', capped, 'budget', budget)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[4])
return {1, available - amount}
