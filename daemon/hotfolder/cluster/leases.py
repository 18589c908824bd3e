"""The Lua scripts of a lease in Redis (a key holding its owner's token, with a TTL), shared
by the job leases (cluster/store.py) and the index's claims (cluster/originals.py). Text
only: importing this loads no Redis client."""
from hotfolder.config.sections.cluster import LEASE_TTL_MAX

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

# A lease without a TTL, or with one longer than any holder sets (a holder of ours sets PX
# to its lease_ttl, at most CEILING, and refreshes it at a third of that; this one was forged,
# or restored from elsewhere: a 10-year TTL held its job for ever, an attack round) would
# hold its job: given this node's lease time, it ends then unless a real holder refreshes it.
# The ceiling is the config's, not this node's lease: nodes may be given different lease_ttl
# values, and a 10x-this-node bound cut a longer-leased node's live lease (a review).
# 1 if a TTL was set.
CEILING_MS = LEASE_TTL_MAX * 1000
BOUND = f"""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl == -1 or ttl > {CEILING_MS} then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
  end
end
return 0
"""
