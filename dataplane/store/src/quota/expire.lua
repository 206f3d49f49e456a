-- Release holds whose request never settled (its process died), oldest first.
-- KEYS: 1 expiry zset ; ARGV: 1 now ms, 2 hash name prefix ("<prefix>q:"), 3 max holds
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, request in ipairs(expired) do
  local hold = ARGV[2] .. 'h:' .. request
  local user = redis.call('HGET', hold, 'user')
  if user then
    local amount = tonumber(redis.call('HGET', hold, 'amount'))
    local user_hash = ARGV[2] .. 'u:' .. user
    if redis.call('EXISTS', user_hash) == 1 then
      redis.call('HINCRBY', user_hash, 'held', -amount)
    end
    if redis.call('HGET', hold, 'capped') == '1' then
      local key_hash = ARGV[2] .. 'k:' .. redis.call('HGET', hold, 'key')
      if redis.call('EXISTS', key_hash) == 1 then
        redis.call('HINCRBY', key_hash, 'held', -amount)
      end
    end
    local budget = redis.call('HGET', hold, 'budget')
    if budget and budget ~= '' and redis.call('EXISTS', ARGV[2] .. 'b:' .. budget) == 1 then
      redis.call('HINCRBY', ARGV[2] .. 'b:' .. budget, 'held', -amount)
    end
    redis.call('DEL', hold)
  end
  redis.call('ZREM', KEYS[1], request)
end
return #expired
