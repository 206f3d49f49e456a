-- The database could not record a charge: release the hold and deduct the cost from the cached
-- balance (same version) and add it to the key's spend, so the money cannot be spent again while
-- the charge waits to be replayed. The replay installs the database's newer balance, which
-- includes the charge.
-- KEYS: 1 hold hash, 2 expiry zset, 3 user hash, 4 key hash, 5 budget hash
-- ARGV: 1 request id, 2 hash name prefix ("<prefix>q:"), 3 cost, 4 key capped ('1'/'0'),
--       5 has budget ('1'/'0')
local user = redis.call('HGET', KEYS[1], 'user')
if user then
  local amount = tonumber(redis.call('HGET', KEYS[1], 'amount'))
  if redis.call('EXISTS', KEYS[3]) == 1 then
    redis.call('HINCRBY', KEYS[3], 'held', -amount)
  end
  if redis.call('HGET', KEYS[1], 'capped') == '1' and redis.call('EXISTS', KEYS[4]) == 1 then
    redis.call('HINCRBY', KEYS[4], 'held', -amount)
  end
  local budget = redis.call('HGET', KEYS[1], 'budget')
  if budget and budget ~= '' and redis.call('EXISTS', KEYS[5]) == 1 then
    redis.call('HINCRBY', KEYS[5], 'held', -amount)
  end
  redis.call('DEL', KEYS[1])
end
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HEXISTS', KEYS[3], 'bal') == 1 then
  redis.call('HINCRBY', KEYS[3], 'bal', -tonumber(ARGV[3]))
end
if ARGV[4] == '1' and redis.call('HEXISTS', KEYS[4], 'spent') == 1 then
  redis.call('HINCRBY', KEYS[4], 'spent', tonumber(ARGV[3]))
end
if ARGV[5] == '1' and redis.call('HEXISTS', KEYS[5], 'spent') == 1 then
  redis.call('HINCRBY', KEYS[5], 'spent', tonumber(ARGV[3]))
end
return 1
