"""The auth chain over real HTTP: tokens fetched once, cached, refreshed exactly once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from pydantic import SecretStr

from emulator import AliceEmulator
from service.errors import AliceAuthError
from tests.integration.alice.conftest import ClientFactory


async def test_report_through_the_auth_chain(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A report is fetched byte for byte via login and backend tokens, which are then reused."""
    user = new_user()
    client = make_client()
    assert await client.fetch_report(user) == emulator.report_bytes(user)
    assert await client.fetch_report(user) == emulator.report_bytes(user)
    counts = emulator.counts()
    assert (counts["login_token"], counts["backend_token"], counts["user_report"]) == (1, 1, 2)


async def test_user_state(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """`fetch_user_state` returns the bare state string and follows changes to it."""
    user = new_user()
    client = make_client()
    assert await client.fetch_user_state(user) == "TO_REVIEW"
    emulator.set_user_state(user, "ACCEPTED")
    assert await client.fetch_user_state(user) == "ACCEPTED"


async def test_tokens_are_refreshed_before_they_expire(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """Past `exp - margin` on both clocks, each token is fetched again once, with no 401."""
    user = new_user()
    shift = 0.0
    client = make_client(clock=lambda: time.time() + shift)
    await client.fetch_report(user)
    shift += 3600
    emulator.advance_clock(3600)
    await asyncio.gather(*(client.fetch_report(user) for _ in range(5)))
    counts = emulator.counts()
    assert (counts["login_token"], counts["backend_token"], counts["user_report"]) == (2, 2, 6)
    assert sum(counts.status(name, 401) for name in counts.by_endpoint) == 0


async def test_short_lived_tokens_expire_in_real_time(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """With a 1 s token lifetime, a fetch 2 s later refreshes each token exactly once."""
    emulator.token_ttl_s = 1
    user = new_user()
    client = make_client(token_refresh_margin_s=0.2)
    await client.fetch_report(user)
    await asyncio.sleep(2.1)
    await client.fetch_report(user)
    counts = emulator.counts()
    assert (counts["login_token"], counts["backend_token"]) == (2, 2)
    assert counts.status("user_report", 401) == 0


async def test_revoked_tokens_are_replaced_once(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """After a revocation, 20 concurrent fetches cost one new token of each kind."""
    user = new_user()
    client = make_client()
    await client.fetch_report(user)
    emulator.revoke_tokens()
    emulator.reset_counts()
    bodies = await asyncio.gather(*(client.fetch_report(user) for _ in range(20)))
    assert set(bodies) == {emulator.report_bytes(user)}
    counts = emulator.counts()
    assert counts.status("login_token", 200) == 1
    assert counts.status("backend_token", 401) == 1
    assert counts.status("backend_token", 200) == 1
    assert counts.status("user_report", 200) == 20


async def test_a_token_refused_twice_is_an_auth_error(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """If the fresh token is refused too, `AliceAuthError` is raised after one retry, not more."""
    user = new_user()
    client = make_client()
    await client.fetch_report(user)
    emulator.reset_counts()
    emulator.fail_next(2, 401)
    with pytest.raises(AliceAuthError) as caught:
        await client.fetch_report(user)
    assert caught.value.status == 401
    assert emulator.counts()["user_report"] == 2
    assert emulator.counts()["backend_token"] == 1


async def test_a_wrong_api_key_is_an_auth_error(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A refused API key raises transient `AliceAuthError` after one login request."""
    client = make_client(api_key=SecretStr("not-the-key"))
    with pytest.raises(AliceAuthError) as caught:
        await client.fetch_report(new_user())
    assert caught.value.transient
    assert caught.value.status == 401
    assert emulator.counts()["login_token"] == 1
    assert emulator.counts()["user_report"] == 0
