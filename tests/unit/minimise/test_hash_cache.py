"""The worker's hash cache: a body fetched again byte for byte skips minimisation."""

from __future__ import annotations

from service.processor import HashCache


def test_the_recorded_hash_is_known_only_for_the_same_fetched_body() -> None:
    """The content hash a user's report was recorded under is returned for the very body
    fetched then, and for no other (another body must be minimised and hashed again)."""
    cache = HashCache(max_entries=2)
    cache.remember("u1", b"fetched-1", b"minimised-1")
    assert cache.get("u1", b"fetched-1") == b"minimised-1"
    assert cache.get("u1", b"fetched-2") is None
    assert cache.get("u2", b"fetched-1") is None


def test_the_least_recently_used_user_goes_first() -> None:
    """Bounded: a third user pushes out the one not used for longest."""
    cache = HashCache(max_entries=2)
    cache.remember("u1", b"f1", b"m1")
    cache.remember("u2", b"f2", b"m2")
    cache.remember("u1", b"f1", b"m1")
    cache.remember("u3", b"f3", b"m3")
    assert cache.get("u2", b"f2") is None
    assert cache.get("u1", b"f1") == b"m1"
    assert cache.get("u3", b"f3") == b"m3"
