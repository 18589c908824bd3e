"""Which connection the listener closes to make room for a new one (ops/web/connections.py),
on real socket pairs: an idle keep-alive first, never a page being sent before an older
connection still waiting for its first request."""
from __future__ import annotations

import socket

from hotfolder.ops.web.connections import Conn, Connections, Room


def held(*specs: tuple[float, int, bool]) -> tuple[Connections, list[Conn], list[socket.socket]]:
    """Connections (since, answered, sending), each on one end of a socket pair."""
    table, conns, ends = Connections(), [], []
    for since, answered, sending in specs:
        ours, theirs = socket.socketpair()
        conn = Conn(ours, "127.0.0.1", since, answered=answered)
        conn.sending = sending
        table.add(conn)
        conns.append(conn)
        ends.append(theirs)
    return table, conns, ends


def hang_up(conns: list[Conn], ends: list[socket.socket]) -> None:
    for c in conns:
        c.sock.close()
    for s in ends:
        s.close()


def closed(conns: list[Conn]) -> list[int]:
    return [i for i, c in enumerate(conns) if c.closed_for]


def test_an_idle_keep_alive_goes_first_even_when_newest():
    table, conns, ends = held((1.0, 0, False), (2.0, 0, False), (9.0, 3, False))
    room, why = table.make_room(3)
    assert room is Room.WAIT and "http.max_connections" in why
    assert closed(conns) == [2], "the idle keep-alive, not the oldest connection"
    assert table.make_room(3)[0] is Room.WAIT, "nothing more is closed while one is closing"
    assert closed(conns) == [2]
    hang_up(conns, ends)


def test_a_page_being_sent_is_not_taken_for_an_idle_keep_alive():
    """A scrape's /metrics to a slow reader, its second answer on a keep-alive: cut off,
    the page is lost. It waits its turn among the unanswered, by age."""
    table, conns, ends = held((5.0, 1, True), (2.0, 0, False), (3.0, 0, False))
    assert table.make_room(3)[0] is Room.WAIT
    assert closed(conns) == [1], "the oldest connection still waiting for its request"
    hang_up(conns, ends)


def test_below_the_cap_nothing_is_closed_and_every_answer_busy_refuses():
    table, conns, ends = held((1.0, 1, False), (2.0, 0, False))
    assert table.make_room(3) == (Room.OPEN, "")
    for c in conns:
        c.busy = True
    room, why = table.make_room(2)
    assert room is Room.REFUSE and why.endswith("all of them being answered") and closed(conns) == []
    hang_up(conns, ends)
