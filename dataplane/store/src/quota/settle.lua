-- Release a hold and fold in the state the database reached after settling it.
-- KEYS: 1 hold hash, 2 expiry zset, 3 user hash, 4 key hash, 5 budget hash
-- ARGV: 1 request id, 2 hash name prefix ("<prefix>q:"), 3 has balance ('1'/'0'), 4 balance,
--       5 balance version, 6 has key spend ('1'/'0'), 7 key spend, 8 hash ttl s,
--       9 has budget spend ('1'/'0'), 10 budget spend
-- A balance is replaced only by a newer version and key and budget spend only grow, so settlements
-- applied out of order, twice, or after a reload never move a cached value backwards.
local user = redis.call('HGET', KEYS[1], 'user')
if user then
  local amount = tonumber(redis.call('HGET', KEYS[1], 'amount'))
  local user_hash = ARGV[2] .. 'u:' .. user
  if redis.call('EXISTS', user_hash) == 1 then
    redis.call('HINCRBY', user_hash, 'held', -amount)
  end
  if redis.call('HGET', KEYS[1], 'capped') == '1' then
    local key_hash = ARGV[2] .. 'k:' .. redis.call('HGET', KEYS[1], 'key')
    if redis.call('EXISTS', key_hash) == 1 then
      redis.call('HINCRBY', key_hash, 'held', -amount)
    end
  end
  local budget = redis.call('HGET', KEYS[1], 'budget')
  if budget and budget ~= '' and redis.call('EXISTS', ARGV[2] .. 'b:' .. budget) == 1 then
    redis.call('HINCRBY', ARGV[2] .. 'b:' .. budget, 'held', -amount)
  end
  redis.call('DEL', KEYS[1])
end
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[3] == '1' then
  local current = redis.call('HGET', KEYS[3], 'ver')
  if (not current) or tonumber(current) < tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[3], 'bal', ARGV[4], 'ver', ARGV[5])
    redis.call('EXPIRE', KEYS[3], ARGV[8])
  end
end
-- Spend (a key's, a tenant month's) only grows.
local function raise_spent(hash, spent)
  local current = redis.call('HGET', hash, 'spent')
  if (not current) or tonumber(current) < tonumber(spent) then
    redis.call('HSET', hash, 'spent', spent)
    redis.call('EXPIRE', hash, ARGV[8])
  end
end
if ARGV[6] == '1' then
  raise_spent(KEYS[4], ARGV[7])
end
if ARGV[9] == '1' then
  raise_spent(KEYS[5], ARGV[10])
end
return 1
