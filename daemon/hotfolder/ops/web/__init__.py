"""The listener of `http:`: /metrics, the status page and its requeue, a JSON status.

    server.py       the socket, the asyncio loop that reads and writes every connection,
                    the threads that answer whole requests; systemd's socket
    connections.py  how many connections, and the descriptors left to the daemon
    http11.py       HTTP/1.1 on the wire: heads parsed, bodies read, answers written
    app.py          routes, who may do what, the answers
    hosts.py        which Host names are answered (DNS rebinding)
    auth.py         the token (and how strong it must be), login sessions, CSRF fields
    throttle.py     wrong tokens per client address
    ratelog.py      one log line per interval for events that come in floods
    page.py         the HTML (server-rendered, works without JavaScript, refreshes itself)

Requests never touch the daemon's state: they read the snapshot the loop publishes
once a second, and a requeue is a request the loop carries out (ops.py).
"""
