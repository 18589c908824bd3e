from hotfolder.backoff import Backoff


def test_the_wait_doubles_to_its_cap_and_starts_over_after_a_success():
    b = Backoff(first=0.5, cap=3.0)
    assert not b.failing
    assert [b.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert b.failing
    b.reset()
    assert not b.failing and b.failed() == 0.5
