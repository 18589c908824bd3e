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

# A lease without a TTL (left by no holder of ours: each one sets PX; forged, or restored
# from elsewhere) would hold its job forever: given one, it ends within a lease's time
# unless a real holder refreshes it. 1 if a TTL was set.
BOUND = """
if redis.call('GET', KEYS[1]) == ARGV[1] and redis.call('PTTL', KEYS[1]) == -1 then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
