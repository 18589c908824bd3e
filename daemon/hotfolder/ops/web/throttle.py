"""Wrong tokens per client address: a few at once, then one every REFILL seconds.

A token bucket per address (an IPv6 client by its /64, which one machine usually
holds whole). A client over its rate is answered 429 with Retry-After at once: the
throttle never sleeps, so a flood of guesses holds no thread and no slot a scrape needs.
While a client is throttled its tokens are not checked at all, the right one neither:
an answer that differed would tell the token from a guess.

The table is bounded (MAX_CLIENTS, the least recently wrong forgotten first). A client
with many addresses could guess faster, but not a token the config accepts (see
auth.token_weakness; `openssl rand -hex 16` is 128 bits): the throttle is there to keep
the log and the threads free, and to slow down guesses at a token typed by hand.
"""
from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict

BURST = 5  # wrong tokens a client may send in a row (typos), before it waits
REFILL = 2.0  # seconds after which one more is allowed: 1,800 guesses an hour per address at most
MAX_CLIENTS = 4096  # addresses remembered (~0.5 MB at the most)


def client_key(address: str) -> str:
    """Who a client is, for the throttle: its IPv4 address, or its IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class Throttle:
    def __init__(self, burst: int = BURST, refill: float = REFILL, max_clients: int = MAX_CLIENTS):
        self.burst, self.refill, self.max_clients = burst, refill, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, when)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def _tokens(self, key: str, now: float) -> float:
        tokens, when = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - when) / self.refill)

    def retry_after(self, client: str) -> int:
        """Whole seconds until `client` may try a token again; 0: now."""
        now = time.monotonic()
        with self._lock:
            tokens = self._tokens(client_key(client), now)
        return 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) * self.refill))

    def failed(self, client: str) -> None:
        """`client` sent a wrong token."""
        key, now = client_key(client), time.monotonic()
        with self._lock:
            self._buckets[key] = (max(0.0, self._tokens(key, now) - 1), now)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
