"""The Lua scripts of a lease in Redis (a key holding its owner's token, with a TTL), shared
by the job leases (cluster/store.py) and the index's claims (cluster/originals.py). Text
only: importing this loads no Redis client."""

# Extend the lease if it is ours or gone (then take it again): 1, else 0 (another holds it).
REFRESH = """
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# Drop the lease only if it is ours.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# A lease without a TTL, or with one far past any holder's (a holder of ours sets PX to its
# lease_ttl and refreshes it at a third of that; this one was forged, or restored from
# elsewhere: a 10-year TTL held its job for ever, an attack round) would hold its job: given
# a lease's time, it ends then unless a real holder refreshes it. Far past: over FAR times
# this node's lease (a node may be given a longer lease_ttl than another). 1 if a TTL was set.
FAR = 10
BOUND = f"""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl == -1 or ttl > {FAR} * tonumber(ARGV[2]) then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
end
return 0
"""
