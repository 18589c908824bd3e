"""The listener of `http:`: /metrics, the status page and its requeue, a JSON status.

    server.py   the socket and its thread (or the socket systemd passes), nothing else
    app.py      routes, who may do what, the answers
    auth.py     the token, login sessions, CSRF fields
    page.py     the HTML (server-rendered, works without JavaScript, refreshes itself)

Requests never touch the daemon's state: they read the snapshot the loop publishes
once a second, and a requeue is a request the loop carries out (ops.py).
"""
