"""`{seq}` held for the file it was given to (recipes/sequence.py): another attempt of the
same file gets the same number, so its outputs replace the first attempt's (a kill between
the outputs and the archive left `s/0001.jpg` beside `s/0002.jpg`: an attack round)."""
from __future__ import annotations

import sqlite3

from hotfolder.recipes import sequence


def test_a_number_is_held_for_its_file_and_never_given_twice(tmp_path):
    numbers = sequence.LocalNumbers(tmp_path)
    assert numbers.next_number("f", holder=11) == 1
    assert numbers.next_number("f", holder=11) == 1  # the same file again: its number
    assert numbers.next_number("f", holder=12) == 2
    assert numbers.next_number("f") == 3  # no holder (process, rerender): always the next
    assert numbers.next_number("g", holder=11) == 1  # each folder its own sequence
    assert sequence.LocalNumbers(tmp_path).next_number("f", holder=12) == 2  # another process, a restart


def test_a_held_number_is_let_go_after_a_while(tmp_path):
    numbers = sequence.LocalNumbers(tmp_path)
    assert numbers.next_number("f", holder=11) == 1
    with sqlite3.connect(tmp_path / "hotfolder.db") as conn:
        conn.execute("UPDATE sequence_held SET time = time - ?", (sequence.HELD_FOR + 1,))
    assert numbers.next_number("f", holder=11) == 2
